// SPDX-License-Identifier: MIT
/*
 * elfutils 0.192's libelf.a (Debian trixie's libelf-dev 0.192-4) calls four
 * functions of elfutils' internal libeu that the archive leaves out
 * (sourceware bug 32293; elfutils 0.193 puts them back in). Linking
 * statically needs them: these are plain tsearch(3) calls on the tree's
 * root, the first member of libeu's search_tree. Without locking: libelf
 * is built without USE_LOCKS (it references no pthread function) and
 * ksystest-libbpf has one thread.
 */
#define _GNU_SOURCE
#include <search.h>
#include <stddef.h>

struct eu_search_tree {
	void *root;
};

typedef int (*eu_compare)(const void *, const void *);

void eu_search_tree_init(struct eu_search_tree *tree);
void eu_search_tree_fini(struct eu_search_tree *tree, void (*free_node)(void *));
void *eu_tsearch(const void *key, struct eu_search_tree *tree, eu_compare compare);
void *eu_tdelete(const void *key, struct eu_search_tree *tree, eu_compare compare);

void eu_search_tree_init(struct eu_search_tree *tree)
{
	tree->root = NULL;
}

void eu_search_tree_fini(struct eu_search_tree *tree, void (*free_node)(void *))
{
	tdestroy(tree->root, free_node);
	tree->root = NULL;
}

void *eu_tsearch(const void *key, struct eu_search_tree *tree, eu_compare compare)
{
	return tsearch(key, &tree->root, compare);
}

void *eu_tdelete(const void *key, struct eu_search_tree *tree, eu_compare compare)
{
	return tdelete(key, &tree->root, compare);
}
