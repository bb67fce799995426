/* --external TYPE[KEY]:VALUE, for dump and restore. */
#include <stdlib.h>
#include <string.h>
#include "cr/cr.h"
#include "crtool.h"

int crtool_external(const char *cmd, const char *arg, struct cr_external *ext, unsigned long *nr, unsigned long max)
{
	const char *open = strchr(arg, '['), *close = strstr(arg, "]:");
	char *key;

	if (!open || open == arg || !close || close < open + 2 || !close[2])
		return crtool_fail("%s: --external %s: want TYPE[KEY]:VALUE (veth[IFNAME]:OUTSIDE, net[INODE]:KEY, "
				   "net[KEY]:PATH)", cmd, arg);
	if (*nr == max)
		return crtool_fail("%s: more than %lu --external", cmd, max);
	if (!(key = strndup(arg, close + 1 - arg)))
		return crtool_fail("%s: out of memory", cmd);
	ext[(*nr)++] = (struct cr_external){ key, close + 2 };
	return 0;
}
