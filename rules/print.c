/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Normalized policy printer.
 *
 * The output is the canonical form `hush policy check` shows and hashes:
 *
 *   mode enforce|audit                     always first (top level has one)
 *   inbound allow|deny                     if written
 *   resolver ADDR | ADDR:PORT | [V6]:PORT  if set; ":53" left out
 *   <top-level statements in id order>
 *
 *   scope PATH {                           each scope in file order, after a
 *   \tmode ...                             blank line, statements indented
 *   \tinbound ...                          (each if written)
 *   \t<statements in id order>             by one tab
 *   }
 *
 * Statements: "allow|deny ADDR[/LEN] [PROTO [PORTS]]" with a host address
 * written without "/32" or "/128", "any" as the proto left out when there
 * are no ports, ports as sorted merged "N" and "LO-HI" items joined by ",".
 * Parsing this output gives back the same policy (ids renumbered when the
 * input had top-level statements after a scope block).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/policy.h"

void policy_prefix_text(char *buf, int family, const uint8_t *a, unsigned plen, bool always_len)
{
	const size_t size = POLICY_ADDRSTRLEN;
	unsigned w[8], i, best = 8, blen = 0;
	size_t o = 0;

	if (family == AF_INET) {
		o = (size_t)snprintf(buf, size, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		if (always_len || plen != 32)
			snprintf(buf + o, size - o, "/%u", plen);
		return;
	}
	if (family != AF_INET6) {
		snprintf(buf, size, "any");
		return;
	}
	/* RFC 5952: the longest run (first on a tie) of two or more zero
	 * groups becomes "::"; lower-case hex without leading zeros */
	for (i = 0; i < 8; i++)
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (i = 0; i < 8;) {
		unsigned j = i;

		while (j < 8 && !w[j])
			j++;
		if (j - i > blen && j - i >= 2) {
			best = i;
			blen = j - i;
		}
		i = j == i ? i + 1 : j;
	}
	buf[0] = '\0';
	for (i = 0; i < 8; i++) {
		if (i == best) {
			o += (size_t)snprintf(buf + o, size - o, "::");
			i += blen - 1;
			continue;
		}
		o += (size_t)snprintf(buf + o, size - o, "%s%x", i && i != best + blen ? ":" : "",
				      w[i]);
	}
	if (always_len || plen != 128)
		snprintf(buf + o, size - o, "/%u", plen);
}

static void print_ports(FILE *f, uint8_t proto, size_t n, const struct policy_portrange *r)
{
	size_t i;

	if (proto == 6)
		fputs(" tcp", f);
	else if (proto == 17)
		fputs(" udp", f);
	else if (n)
		fputs(" any", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%c%u", i ? ',' : ' ', r[i].lo);
		if (r[i].hi != r[i].lo)
			fprintf(f, "-%u", r[i].hi);
	}
}

static void print_rule(FILE *f, const struct policy_rule *r)
{
	char a[POLICY_ADDRSTRLEN];

	policy_prefix_text(a, r->family, r->addr, r->plen, false);
	fprintf(f, "%s %s", r->action == POLICY_DENY ? "deny" : "allow", a);
	print_ports(f, r->proto, r->nports, r->ports);
}

static void print_dns(FILE *f, const struct policy_dns *d)
{
	fprintf(f, "allow dns %s%s", d->wildcard ? "*." : "", d->name);
}

static void print_host(FILE *f, const struct policy_host *h)
{
	fprintf(f, "allow host %s", h->name);
	print_ports(f, h->proto, h->nports, h->ports);
}

/* Statements of one scope, merged back into id (file) order. */
static void print_body(FILE *f, const struct policy_scope *sc, const char *indent)
{
	size_t r = 0, d = 0, h = 0;

	for (;;) {
		uint32_t ir = r < sc->nrules ? sc->rules[r].id : UINT32_MAX;
		uint32_t id = d < sc->ndns ? sc->dns[d].id : UINT32_MAX;
		uint32_t ih = h < sc->nhosts ? sc->hosts[h].id : UINT32_MAX;

		if (r >= sc->nrules && d >= sc->ndns && h >= sc->nhosts)
			break;
		fputs(indent, f);
		if (ir <= id && ir <= ih && r < sc->nrules)
			print_rule(f, &sc->rules[r++]);
		else if (id <= ih && d < sc->ndns)
			print_dns(f, &sc->dns[d++]);
		else
			print_host(f, &sc->hosts[h++]);
		fputc('\n', f);
	}
}

int policy_print(const struct policy *p, FILE *f)
{
	const struct policy_scope *top = &p->scopes[0];
	size_t i;

	fprintf(f, "mode %s\n", top->mode == HUSH_MODE_AUDIT ? "audit" : "enforce");
	if (top->has_inbound)
		fprintf(f, "inbound %s\n", top->inbound_deny ? "deny" : "allow");
	if (p->has_resolver) {
		char a[POLICY_ADDRSTRLEN];

		policy_prefix_text(a, p->resolver_family, p->resolver,
				   p->resolver_family == AF_INET ? 32 : 128, false);
		if (p->resolver_port == 53)
			fprintf(f, "resolver %s\n", a);
		else if (p->resolver_family == AF_INET)
			fprintf(f, "resolver %s:%u\n", a, p->resolver_port);
		else
			fprintf(f, "resolver [%s]:%u\n", a, p->resolver_port);
	}
	print_body(f, top, "");
	for (i = 1; i < p->nscopes; i++) {
		const struct policy_scope *sc = &p->scopes[i];

		fprintf(f, "\nscope %s {\n", sc->path);
		if (sc->has_mode)
			fprintf(f, "\tmode %s\n",
				sc->mode == HUSH_MODE_AUDIT ? "audit" : "enforce");
		if (sc->has_inbound)
			fprintf(f, "\tinbound %s\n", sc->inbound_deny ? "deny" : "allow");
		print_body(f, sc, "\t");
		fputs("}\n", f);
	}
	return ferror(f) ? -EIO : 0;
}

/* Run `fn(f, arg)` into a memory stream and return the text. */
static char *to_string(void (*fn)(FILE *, const void *), const void *arg)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int bad;

	if (!f)
		return NULL;
	fn(f, arg);
	bad = ferror(f);
	if (fclose(f) || bad) {
		free(s);
		return NULL;
	}
	return s;
}

static void emit_policy(FILE *f, const void *p)
{
	policy_print(p, f);
}

static void emit_rule(FILE *f, const void *r)
{
	print_rule(f, r);
}

static void emit_dns(FILE *f, const void *d)
{
	print_dns(f, d);
}

static void emit_host(FILE *f, const void *h)
{
	print_host(f, h);
}

char *policy_to_string(const struct policy *p)
{
	return to_string(emit_policy, p);
}

char *policy_rule_text(const struct policy_rule *r)
{
	return to_string(emit_rule, r);
}

char *policy_dns_text(const struct policy_dns *d)
{
	return to_string(emit_dns, d);
}

char *policy_host_text(const struct policy_host *h)
{
	return to_string(emit_host, h);
}
