/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The parser's side of scope selectors (rules/select.c). */
#ifndef HUSH_RULES_SELECT_INT_H
#define HUSH_RULES_SELECT_INT_H

#include "rules/parse_int.h"

/*
 * "scope container|pod COND... {": checks toks[2..] up to "{" (index in
 * *brace, ntok if none), reports the first bad condition, and on success
 * sets *path to the normalized selector text (malloc'd).
 */
int sel_parse(struct parser *ps, const struct tok *toks, size_t ntok, char **path, size_t *brace);

#endif /* HUSH_RULES_SELECT_INT_H */
