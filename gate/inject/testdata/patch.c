/* patch: a patch object for libver version 1, replacing ver_get only
 * (-DPATCH_VERSION=N). The tests write its .patchinfo section. */
int ver_get(void)
{
	return PATCH_VERSION;
}
