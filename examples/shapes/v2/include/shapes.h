/* libshapes 2.0: the public header. */
#ifndef SHAPES_H
#define SHAPES_H

struct point {
	double x;
	double y;
};

struct circle {
	struct point center;
	int radius;
};

extern int shapes_version;

double circle_area(const struct circle *c);
double circle_perimeter(const struct circle *c);
int point_distance2(struct point a, struct point b);
void circle_translate(struct circle *c, struct point by);

#endif
