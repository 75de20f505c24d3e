/* libshapes 1.0: a small geometry library. */
#include <math.h>

#include "shapes.h"

int shapes_version = 100;

double circle_area(const struct circle *c)
{
	return M_PI * c->radius * c->radius;
}

int point_distance2(struct point a, struct point b)
{
	int dx = a.x - b.x, dy = a.y - b.y;
	return dx * dx + dy * dy;
}

void circle_move(struct circle *c, int dx, int dy)
{
	c->center.x += dx;
	c->center.y += dy;
}
