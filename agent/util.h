/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Small helpers every part of hush uses, one per concept (systemd's
 * src/basic): clocks, FNV-1a hashing, growing arrays, and cleanup attributes.
 * Header-only (static inline) so the tools, benchmarks and unit tests get
 * them without linking anything.
 */
#ifndef HUSH_AGENT_UTIL_H
#define HUSH_AGENT_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC  1000000000LL
#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_USEC 1000LL

/* ---- clocks ---- */

/* Nanoseconds on clock clk (CLOCK_MONOTONIC, CLOCK_REALTIME, ...). */
static inline int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline int64_t mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

static inline int64_t real_ns(void)
{
	return now_ns(CLOCK_REALTIME);
}

/* The clock of BPF event stamps (bpf_ktime_get_boot_ns()). */
static inline int64_t boot_ns(void)
{
	return now_ns(CLOCK_BOOTTIME);
}

static inline int64_t mono_us(void)
{
	return mono_ns() / NSEC_PER_USEC;
}

static inline int64_t real_ms(void)
{
	return real_ns() / NSEC_PER_MSEC;
}

/* Seconds on clk as a double, for measuring intervals. */
static inline double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- FNV-1a ---- */

/*
 * Chain calls to hash several fields: h = fnv1a64(FNV64_INIT, a, n);
 * h = fnv1a64(h, b, m).  FNV64_INIT is the value hush's tables have always
 * started from: the canonical offset basis (14695981039346656037) with its
 * last digit dropped.  Any start hashes as well; this one keeps table layouts
 * (and orders that may leak from them) as they were.
 */
#define FNV32_INIT  2166136261u
#define FNV32_PRIME 16777619u
#define FNV64_INIT  1469598103934665603ull
#define FNV64_PRIME 1099511628211ull

static inline uint32_t fnv1a32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV32_PRIME;
	return h;
}

static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV64_PRIME;
	return h;
}

/* The same over a C string, without its NUL. */
static inline uint32_t fnv1a32_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV32_PRIME;
	return h;
}

static inline uint64_t fnv1a64_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV64_PRIME;
	return h;
}

/* ---- growing arrays ---- */

/*
 * Make room for need elements of elem bytes in the array *pp (pp is the
 * address of some T *, passed as void * so any T fits), doubling *cap from
 * first (16 if 0).  Returns 0, or -ENOMEM with *pp and *cap unchanged.
 * GROW(arr, cap, need, first) is the usual spelling.
 */
static inline int grow_array(void *pp, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t nc = *cap ? *cap : (first ? first : 16);
	void *old, *np;

	if (need <= *cap)
		return 0;
	while (nc < need) {
		if (nc > SIZE_MAX / 2)
			return -ENOMEM;
		nc *= 2;
	}
	if (nc > SIZE_MAX / elem)
		return -ENOMEM;
	memcpy(&old, pp, sizeof(old)); /* no aliasing a T * as a void * */
	np = realloc(old, nc * elem);
	if (!np)
		return -ENOMEM;
	memcpy(pp, &np, sizeof(np));
	*cap = nc;
	return 0;
}

#define GROW(arr, cap, need, first) grow_array(&(arr), &(cap), (need), sizeof(*(arr)), (first))

/* ---- cleanup attributes (systemd's) ---- */

/*
 * A variable declared _cleanup_free_ is freed when it goes out of scope, one
 * declared _cleanup_close_ closed (if >= 0), _cleanup_fclose_ fclose'd (if
 * not NULL and not stdin).  TAKE_PTR()/TAKE_FD() hand the value on and leave
 * NULL/-1 behind, so the cleanup does nothing:
 *
 *	_cleanup_free_ char *b = malloc(n);
 *	...
 *	*out = TAKE_PTR(b);
 */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	void *v;

	memcpy(&v, p, sizeof(v));
	free(v);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f && *f != stdin)
		fclose(*f);
}

#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

#define TAKE_PTR(p)                                                                                \
	__extension__({                                                                            \
		__typeof__(p) _took = (p);                                                         \
		(p) = NULL;                                                                        \
		_took;                                                                             \
	})
#define TAKE_FD(fd)                                                                                \
	__extension__({                                                                            \
		int _took = (fd);                                                                  \
		(fd) = -1;                                                                         \
		_took;                                                                             \
	})

#endif /* HUSH_AGENT_UTIL_H */
