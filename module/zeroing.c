// SPDX-License-Identifier: GPL-2.0
/*
 * Page zeroing: kretprobes on the function that clears 4 KiB pages and on
 * the huge-page clear.  Which function clears depends on the kernel
 * (compat.h lists what each has); init tries, by symbol:
 *
 * - clear_page_erms/_rep/_orig (up to 6.x): clear_page() is an alternative
 *   call to one of them (arch/x86/lib/clear_page_64.S), whoever asked for
 *   it: the page allocator for __GFP_ZERO and init_on_alloc, the huge-page
 *   clear subpage by subpage, page tables.  One call per page.  They have
 *   no fentry, so tracefs and BPF kprobes refuse them; register_kprobe()
 *   from a module does not, and optimizes the probe into a jump where it
 *   can.
 * - clear_highpages_kasan_tagged(page, numpages) (7.x, where clear_page()
 *   is inline): the page allocator's zeroing, numpages pages in one call.
 *   The huge-page clear clears its pages itself, inline, so there it is the
 *   huge-page hook that counts the folio's pages (huge_counts_pages).
 *
 * Whether the allocator asked is read from the return address at entry: a
 * call from inside the allocator's functions (ALLOCSTAT_ALLOC_ZERO_SYMS,
 * where the zeroing is inlined or tail-called) is the allocator's.  That
 * costs no extra probe on the allocator's hot path.
 *
 * zero_ns is the time inside the clearing call, entry to return, so it
 * includes the probes' own entry and exit cost for each call (see
 * allocstat(4), Cost).  A huge-page clear (folio_zero_user, clear_huge_page:
 * 512 clear_page() calls for a 2 MiB page up to 6.x) is timed once, entry
 * to return, instead: its subpages are only counted, and their kretprobe
 * instance is dropped at entry, which saves the return probe on each of
 * them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/ptrace.h>

#include "allocstat.h"
#include "compat.h"

static const char *const clear_page_syms[] = ALLOCSTAT_CLEAR_PAGE_SYMS;
static const char *const clear_range_syms[] = ALLOCSTAT_CLEAR_RANGE_SYMS;
static const char *const clear_huge_syms[] = ALLOCSTAT_CLEAR_HUGE_SYMS;
static const char *const alloc_zero_syms[] = ALLOCSTAT_ALLOC_ZERO_SYMS;

struct text_range {
	unsigned long start;
	unsigned long end;
};

static struct text_range alloc_ranges[ARRAY_SIZE(alloc_zero_syms)];
static unsigned int nr_alloc_ranges;

struct zero_data {
	struct allocstat_task *slot;
	struct allocstat_stamp start;
	unsigned int epoch;
	unsigned int pages;	/* cleared by this call */
	bool alloc;
};

/*
 * The huge-page hook counts the folio's pages itself when the 4 KiB hook is
 * clear_highpages_kasan_tagged(), which the huge clear does not call; with
 * clear_page_* the subpages are counted one by one.  Set before any probe
 * is registered, constant while they are.
 */
static bool huge_counts_pages;

/* A clear of at least this many pages at once is a huge-page clear. */
#define ZERO_HUGE_PAGES		(PMD_SIZE / PAGE_SIZE)

static bool called_by_allocator(unsigned long ret_addr)
{
	unsigned int i;

	for (i = 0; i < nr_alloc_ranges; i++)
		if (ret_addr >= alloc_ranges[i].start && ret_addr < alloc_ranges[i].end)
			return true;
	return false;
}

/*
 * clear_entry - entry of a clear of @pages pages: count it inside a huge
 * clear, time it otherwise.
 *
 * The clear_page_* probes run either as an optimized kprobe (a jump, task
 * context) or as an int3 (NMI-like context, until the optimizer has replaced
 * the breakpoint, or forever with debug.kprobes-optimization=0): both are
 * accepted, see allocstat_ctx_ok().  (From 6.15 alloc_pages_nolock() can
 * zero a page in NMI context, which an optimized probe would take for task
 * context; Debian's 6.1 and 6.12 have no such allocator.)
 * clear_highpages_kasan_tagged() has an fentry, so its probe goes through
 * ftrace (never an int3: without KPROBES_ON_FTRACE, register_kprobe() refuses
 * an fentry site) and accepts task context only:
 * on 7.x a BPF program in NMI context allocates zeroed pages
 * (alloc_pages_nolock()), and that NMI has the preempt count of an int3.
 */
static int clear_entry(struct kretprobe_instance *ri, struct pt_regs *regs,
		       enum allocstat_ctx ctx, unsigned int pages)
{
	struct zero_data *d = (struct zero_data *)ri->data;
	struct allocstat_task *s;

	s = allocstat_task_current(ctx, &d->epoch);
	if (!s)
		return 1;
	if (s->huge_clears) {
		/* inside a huge clear: huge_return() times the whole */
		if (!huge_counts_pages)
			WRITE_ONCE(s->row.c.zero_pages, s->row.c.zero_pages + pages);
		return 1;
	}
	d->slot = s;
	d->pages = pages;
	/* At function entry the stack pointer points at the return address. */
	d->alloc = called_by_allocator(*(unsigned long *)kernel_stack_pointer(regs));
	allocstat_stamp(s, &d->start);
	return 0;
}

static int zero_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return clear_entry(ri, regs, ALLOCSTAT_CTX_INT3, 1);
}

/* clear_highpages_kasan_tagged(struct page *page, int numpages) */
static int range_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	int pages = (int)regs_get_kernel_argument(regs, 1);

	return pages > 0 ? clear_entry(ri, regs, ALLOCSTAT_CTX_TASK, pages) : 1;
}

static int zero_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct zero_data *d = (struct zero_data *)ri->data;
	struct allocstat_task *s = d->slot;
	struct allocstat_counters *c = &s->row.c;
	struct allocstat_section sec;

	allocstat_section_end(s, &d->start, &sec);
	if (!allocstat_task_owns(s, d->epoch))
		return 0;
	WRITE_ONCE(c->zero_pages, c->zero_pages + d->pages);
	allocstat_add_section(&c->zero_ns, &c->zero_runq_ns, &c->zero_sleep_ns, &sec);
	if (d->alloc)
		WRITE_ONCE(c->zero_alloc_pages, c->zero_alloc_pages + d->pages);
	/*
	 * 7.x: the allocator zeroing a huge page's worth in one call, whatever
	 * it is for: a THP under init_on_alloc (instead of folio_zero_user()),
	 * a hugetlb page, the hugetlb pool growing (allocstat(4), zero_huge)
	 */
	if (d->pages >= ZERO_HUGE_PAGES)
		WRITE_ONCE(c->zero_huge, c->zero_huge + 1);
	return 0;
}

/*
 * Only the owner task writes huge_clears (entry and return run in its
 * context), so a plain counter suffices.  A slot starts with huge_clears 0
 * (slot_init() clears it), and a return whose slot was reset or given away
 * meanwhile leaves it alone (allocstat_task_owns()), so the count cannot
 * wrap; it saturates at 0 all the same, because a count stuck above 0 would
 * leave every later 4 KiB clear of the task untimed.
 */
static int huge_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct zero_data *d = (struct zero_data *)ri->data;

	d->slot = allocstat_task_current(ALLOCSTAT_CTX_TASK, &d->epoch);
	if (!d->slot)
		return 1;
	d->slot->huge_clears++;
	/* folio_zero_user(struct folio *folio, unsigned long addr_hint) */
	d->pages = huge_counts_pages ?
		folio_nr_pages((struct folio *)regs_get_kernel_argument(regs, 0)) : 0;
	allocstat_stamp(d->slot, &d->start);
	return 0;
}

static int huge_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct zero_data *d = (struct zero_data *)ri->data;
	struct allocstat_task *s = d->slot;
	struct allocstat_counters *c = &s->row.c;
	struct allocstat_section sec;

	allocstat_section_end(s, &d->start, &sec);
	if (!allocstat_task_owns(s, d->epoch))
		return 0;
	if (!WARN_ON_ONCE(!s->huge_clears))
		s->huge_clears--;
	WRITE_ONCE(c->zero_huge, c->zero_huge + 1);
	WRITE_ONCE(c->zero_pages, c->zero_pages + d->pages);
	allocstat_add_section(&c->zero_ns, &c->zero_runq_ns, &c->zero_sleep_ns, &sec);
	return 0;
}

/* the 4 KiB clears: the clear_page_* variants, or the range clear */
static struct kretprobe clear_page_krps[ARRAY_SIZE(clear_page_syms)];
static struct kretprobe *clear_page_krp_ptrs[ARRAY_SIZE(clear_page_syms)];
static unsigned int nr_clear_page_krps;
static_assert(ARRAY_SIZE(clear_range_syms) <= ARRAY_SIZE(clear_page_syms));
static struct kretprobe huge_krp;
static bool huge_krp_on;

/*
 * The text range of a function, from a kprobe that resolves its name (there
 * is no exported kallsyms_lookup_name) and sprint_symbol()'s "+off/size".
 */
static int resolve_range(const char *name, struct text_range *r)
{
	struct kprobe kp = { .symbol_name = name };
	char buf[KSYM_SYMBOL_LEN];
	unsigned long addr, off, size;
	const char *plus;
	int ret;

	ret = register_kprobe(&kp);
	if (ret)
		return ret;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

	sprint_symbol(buf, addr);
	plus = strrchr(buf, '+');
	if (!plus || sscanf(plus + 1, "%lx/%lx", &off, &size) != 2 || !size)
		return -EINVAL;
	r->start = addr - off;
	r->end = r->start + size;
	return 0;
}

static unsigned long zeroing_missed(void)
{
	unsigned long n = huge_krp_on ? huge_krp.nmissed + huge_krp.kp.nmissed : 0;
	unsigned int i;

	for (i = 0; i < nr_clear_page_krps; i++)
		n += clear_page_krp_ptrs[i]->nmissed + clear_page_krp_ptrs[i]->kp.nmissed;
	return n;
}

/* register_clears - a kretprobe on each of @syms that exists */
static void register_clears(const char *const *syms, unsigned int n,
			    kretprobe_handler_t entry)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct kretprobe *krp = &clear_page_krps[nr_clear_page_krps];

		krp->kp.symbol_name = syms[i];
		krp->entry_handler = entry;
		krp->handler = zero_return;
		krp->data_size = sizeof(struct zero_data);
		/* A clear can be preempted; each preempted task holds an instance. */
		krp->maxactive = ALLOCSTAT_ZERO_MAXACTIVE;
		if (register_kretprobe(krp)) {
			memset(krp, 0, sizeof(*krp));
			continue;
		}
		clear_page_krp_ptrs[nr_clear_page_krps++] = krp;
	}
}

int allocstat_zeroing_init(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(alloc_zero_syms); i++)
		if (!resolve_range(alloc_zero_syms[i], &alloc_ranges[nr_alloc_ranges]))
			nr_alloc_ranges++;
	if (!nr_alloc_ranges)
		pr_notice("allocator zeroing site not found, zero_alloc_pages shows -\n");

	/* up to 6.x every variant that exists; on 7.x the range clear */
	register_clears(clear_page_syms, ARRAY_SIZE(clear_page_syms), zero_entry);
	if (!nr_clear_page_krps) {
		huge_counts_pages = true;
		register_clears(clear_range_syms, ARRAY_SIZE(clear_range_syms), range_entry);
	}
	if (!nr_clear_page_krps) {
		huge_counts_pages = false;
		pr_notice("no clear_page variant nor %s to probe, disabling zeroing accounting\n",
			  clear_range_syms[0]);
		return -ENOENT;
	}

	for (i = 0; i < ARRAY_SIZE(clear_huge_syms); i++) {
		/* clear_huge_page() takes no folio: only folio_zero_user() counts pages */
		if (huge_counts_pages && strcmp(clear_huge_syms[i], "folio_zero_user"))
			continue;
		huge_krp.kp.symbol_name = clear_huge_syms[i];
		huge_krp.entry_handler = huge_entry;
		huge_krp.handler = huge_return;
		huge_krp.data_size = sizeof(struct zero_data);
		/* a huge clear reschedules between subpages */
		huge_krp.maxactive = ALLOCSTAT_ZERO_MAXACTIVE;
		if (!register_kretprobe(&huge_krp)) {
			huge_krp_on = true;
			break;
		}
		memset(&huge_krp, 0, sizeof(huge_krp));
	}
	if (!huge_krp_on && huge_counts_pages) {
		/* 7.x: the huge clears' pages would be missing from zero_pages */
		pr_notice("folio_zero_user cannot be probed, disabling zeroing accounting\n");
		unregister_kretprobes(clear_page_krp_ptrs, nr_clear_page_krps);
		nr_clear_page_krps = 0;
		huge_counts_pages = false;
		return -ENOENT;
	}
	if (!huge_krp_on)
		pr_notice("no huge-page clear function to probe, zero_huge shows -\n");
	allocstat_provided[ALLOCSTAT_HOOK_ZEROING] = (struct allocstat_provides) {
		.caps	= (huge_krp_on ? BIT(ALLOCSTAT_CAP_ZERO_HUGE) : 0) |
			  (nr_alloc_ranges ? BIT(ALLOCSTAT_CAP_ZERO_ALLOC) : 0),
		.missed	= zeroing_missed,
	};
	return 0;
}

void allocstat_zeroing_exit(void)
{
	if (huge_krp_on)
		unregister_kretprobe(&huge_krp);
	huge_krp_on = false;
	unregister_kretprobes(clear_page_krp_ptrs, nr_clear_page_krps);
	nr_clear_page_krps = 0;
	huge_counts_pages = false;
	allocstat_provided[ALLOCSTAT_HOOK_ZEROING] = (struct allocstat_provides) {};
}
