/* libshapes 2.0: points became double precision, circle_move was dropped
 * in favour of circle_translate, and a perimeter function was added. */
#include <math.h>

#include "shapes.h"

int shapes_version = 200;

double circle_area(const struct circle *c)
{
	return M_PI * c->radius * c->radius;
}

double circle_perimeter(const struct circle *c)
{
	return 2 * M_PI * c->radius;
}

int point_distance2(struct point a, struct point b)
{
	double dx = a.x - b.x, dy = a.y - b.y;
	return (int)(dx * dx + dy * dy);
}

void circle_translate(struct circle *c, struct point by)
{
	c->center.x += by.x;
	c->center.y += by.y;
}
