/* libshapes 1.0: the public header. */
#ifndef SHAPES_H
#define SHAPES_H

struct point {
	int x;
	int y;
};

struct circle {
	struct point center;
	int radius;
};

extern int shapes_version;

double circle_area(const struct circle *c);
int point_distance2(struct point a, struct point b);
void circle_move(struct circle *c, int dx, int dy);

#endif
