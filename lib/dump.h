/* Internal entry points of the dump beside cr_dump(). */
#ifndef LIB_DUMP_H
#define LIB_DUMP_H

#include <stdbool.h>
#include "cr/cr.h"

/* cr_dump; with hold_net and stop_after, the tree's TCP connections stay in
 * repair mode under the network lock, and its dirty tracking armed, until
 * dump_release_net() (a migration that has not decided yet whether the tree
 * goes or resumes). */
int dump_tree(const struct cr_dump_opts *opts, bool hold_net);
/* The held connections: closed silently with the killed tree, or given back;
 * the tracking ends (call it before the tree continues). */
void dump_release_net(bool tree_killed);

#endif
