/* Call stacks for traced calls (ASYNCIFY_STACKS=N).
 *
 * On the hot path: libunwind's unw_backtrace() (raw return addresses,
 * per-thread caching so no lock and no signal mask change), our own
 * frames left out, and the frames interned in a fixed table keyed by
 * their hash and the call; a record carries only the table index.  The
 * same table adds up calls and time per stack for the summary's top
 * stacks and the flame graph (flame.c).
 *
 * Off the hot path (the writer thread, the exit summary): symbolizing,
 * dladdr() first, libunwind's unw_get_proc_name() for symbols only the
 * ELF symbol table has (static functions of the executable), cached.
 *
 * libunwind (and the liblzma it pulls in) is loaded with dlopen() only
 * when ASYNCIFY_STACKS asks for stacks: every other process the shim
 * enters starts two shared objects lighter. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <errno.h>
#include <link.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "trace-int.h"
#include "sys.h"

#define XSTR(x) STR(x)
#define STR(x) #x

/* The libunwind functions used, by their real (macro-expanded) names. */
static struct {
	__typeof__(unw_set_caching_policy) *set_caching_policy;
	__typeof__(unw_local_addr_space) *local_addr_space;
	__typeof__(unw_tdep_getcontext) *getcontext;
	__typeof__(unw_init_local) *init_local;
	__typeof__(unw_step) *step;
	__typeof__(unw_get_reg) *get_reg;
	__typeof__(unw_set_reg) *set_reg;
	__typeof__(unw_get_proc_name) *get_proc_name;
	__typeof__(unw_get_proc_info) *get_proc_info;
	__typeof__(unw_backtrace) *backtrace;
} unw;

/* 0, or -1 when libunwind cannot be loaded (stacks are then off). */
static int unw_load(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
#define LOAD(field, sym) (unw.field = (__typeof__(unw.field))dlsym(h, XSTR(sym)))
	if (!LOAD(set_caching_policy, unw_set_caching_policy) ||
	    !LOAD(local_addr_space, unw_local_addr_space) || !LOAD(getcontext, unw_tdep_getcontext) ||
	    !LOAD(init_local, unw_init_local) || !LOAD(step, unw_step) ||
	    !LOAD(get_reg, unw_get_reg) || !LOAD(set_reg, unw_set_reg) ||
	    !LOAD(get_proc_name, unw_get_proc_name) || !LOAD(get_proc_info, unw_get_proc_info) ||
	    !LOAD(backtrace, unw_backtrace))
		return -1;
#undef LOAD
	return 0;
}

#define PROBES 32
#define SYMS 8192
#define ARENA (1u << 20)

struct asy_stack *asy__stacks;
_Atomic uint64_t asy__stacks_used[ASY_STACKS / 64];
_Atomic uint64_t asy__nostack_calls[ASY_CALL_COUNT], asy__nostack_ns[ASY_CALL_COUNT];
_Static_assert(ASY_CALL_COUNT <= 256, "struct asy_stack keeps the call in a uint8_t");
static uintptr_t self_lo, self_hi; /* our own code: frames left out */
static uintptr_t main_base; /* the executable's dli_fbase: named by argv[0] */

struct sym {
	uint64_t ip;
	const char *fn, *obj;
	uint64_t off;
};
static struct {
	pthread_mutex_t lock;
	struct sym *tab;
	char *arena;
	size_t used;
	char exe[512];
} syms = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	if (!main_base && !info->dlpi_name[0]) /* the first object is the executable */
		for (int i = 0; i < info->dlpi_phnum; i++)
			if (info->dlpi_phdr[i].p_type == PT_LOAD) {
				main_base = info->dlpi_addr + (info->dlpi_phdr[i].p_vaddr & ~4095ul);
				break;
			}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo &&
		    me < lo + ph->p_memsz) {
			self_lo = lo, self_hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

int asy__stacks_init(void)
{
	if (unw_load() < 0) {
		asy__warn("ASYNCIFY_STACKS: libunwind cannot be loaded (%s); no stacks", dlerror());
		return -ENOENT;
	}
	size_t n = sizeof(struct asy_stack) * ASY_STACKS + sizeof(struct sym) * SYMS + ARENA;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	asy__stacks = p;
	syms.tab = (void *)(asy__stacks + ASY_STACKS);
	syms.arena = (char *)(syms.tab + SYMS);
	dl_iterate_phdr(find_self, (void *)(uintptr_t)asy__stacks_init);
	/* The global cache takes a lock with signals blocked on every step;
	 * per-thread caching needs neither and is async-signal-safe. */
	unw.set_caching_policy(*unw.local_addr_space, UNW_CACHE_PER_THREAD);
	long l = asy_sys(SYS_readlinkat, -100, "/proc/self/exe", syms.exe, sizeof syms.exe - 1, 0, 0);
	syms.exe[l > 0 ? l : 0] = 0;
	return 0;
}

/* Counters start again; in a fork child the lock may have been held by the
 * parent's writer thread, which does not exist there. */
void asy__stacks_reset(int fork_child)
{
	for (int c = 0; c < ASY_CALL_COUNT; c++) {
		atomic_store(&asy__nostack_calls[c], 0);
		atomic_store(&asy__nostack_ns[c], 0);
	}
	if (!asy__stacks)
		return;
	if (fork_child)
		pthread_mutex_init(&syms.lock, NULL);
	for (int i = 0; i < ASY_STACKS; i++)
		if (atomic_load(&asy__stacks_used[i / 64]) & (1ull << (i % 64))) {
			atomic_store(&asy__stacks[i].calls, 0);
			atomic_store(&asy__stacks[i].time_ns, 0);
		}
}

static uint64_t stack_key(const uint64_t *ip, int n, int call, int truncated)
{
	uint64_t k = 0xcbf29ce484222325ull;
	for (int i = 0; i < n; i++)
		k = (k ^ ip[i]) * 0x100000001b3ull;
	k = (k ^ (uint64_t)(call << 1 | truncated)) * 0x100000001b3ull;
	return k ? k : 1;
}

static uint32_t stack_intern(const uint64_t *ip, int n, int call, int truncated)
{
	uint64_t k = stack_key(ip, n, call, truncated);
	for (uint32_t i = 0; i < PROBES; i++) {
		uint32_t idx = 1 + (uint32_t)((k + i) % (ASY_STACKS - 1));
		struct asy_stack *s = &asy__stacks[idx];
		uint64_t cur = atomic_load_explicit(&s->key, memory_order_acquire);
		if (cur == k)
			return idx;
		uint64_t zero = 0;
		if (cur == 0 && atomic_compare_exchange_strong(&s->key, &zero, k)) {
			atomic_fetch_or(&asy__stacks_used[idx / 64], 1ull << (idx % 64));
			memcpy(s->ip, ip, sizeof *ip * (size_t)n);
			s->depth = n;
			s->call = (uint8_t)call;
			s->truncated = (uint8_t)truncated;
			asy_tsan_release(&s->ready);
			atomic_store_explicit(&s->ready, 1, memory_order_release);
			return idx;
		}
		if (zero == k)
			return idx;
	}
	return 0; /* table full: the record goes without its stack */
}

#ifdef __SANITIZE_THREAD__
/* unw_backtrace()'s frame cache is freed by a TSD destructor that runs
 * after TSan has let go of the exiting thread (a crash): step instead. */
static int backtrace_raw(void **raw, int n)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	unw_word_t ip;
	int k = 0;
	if (unw.getcontext(&ctx) || unw.init_local(&cur, &ctx))
		return 0;
	while (k < n && unw.step(&cur) > 0 && unw.get_reg(&cur, UNW_REG_IP, &ip) == 0)
		raw[k++] = (void *)ip;
	return k;
}
#else
static int backtrace_raw(void **raw, int n)
{
	return unw.backtrace(raw, n);
}
#endif

uint32_t asy__stack_capture(int call)
{
	void *raw[ASY_STACK_MAX + 8];
	uint64_t ip[ASY_STACK_MAX];
	int want = asy__tcfg.stacks;
	int n = backtrace_raw(raw, want + 8), k = 0, i = 0;
	while (i < n && (uintptr_t)raw[i] >= self_lo && (uintptr_t)raw[i] < self_hi)
		i++;
	for (; i < n && k < want; i++)
		ip[k++] = (uint64_t)(uintptr_t)raw[i];
	return k ? stack_intern(ip, k, call, i < n) : 0;
}

void asy__stack_account(uint32_t idx, int call, uint64_t ns)
{
	_Atomic uint64_t *calls = &asy__nostack_calls[call], *time_ns = &asy__nostack_ns[call];
	if (idx)
		calls = &asy__stacks[idx].calls, time_ns = &asy__stacks[idx].time_ns;
	atomic_fetch_add_explicit(calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(time_ns, ns, memory_order_relaxed);
}

/* ---- symbolizing, off the hot path --------------------------------------- */

static const char *intern(const char *s)
{
	size_t l = strlen(s) + 1;
	if (syms.used + l > ARENA)
		return "?";
	char *p = syms.arena + syms.used;
	memcpy(p, s, l);
	syms.used += l;
	return p;
}

/* A name only the ELF symbol table has (a static function of an
 * unstripped object): point a libunwind cursor at ip.  libunwind names the
 * nearest symbol below ip, which in a stripped object is some other
 * function; trust it only when that symbol starts where the unwind info
 * says ip's function starts. */
static int unw_name(uint64_t ip, char *buf, size_t n, uint64_t *off)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	unw_proc_info_t pi;
	unw_word_t o;
	if (unw.getcontext(&ctx) || unw.init_local(&cur, &ctx) ||
	    unw.set_reg(&cur, UNW_REG_IP, (unw_word_t)ip) ||
	    unw.get_proc_name(&cur, buf, n, &o) || unw.get_proc_info(&cur, &pi) ||
	    ip - o != pi.start_ip)
		return -1;
	*off = o;
	return 0;
}

/* Whether an object has an ELF symbol table (.symtab), once per object:
 * libunwind maps the whole file and reads /proc/self/maps for every name
 * it looks up, which is wasted on stripped objects (most of a system). */
#define OBJS 128
static struct {
	const void *base;
	int symtab;
} objs[OBJS];

static int has_symtab_file(const char *path)
{
	ElfW(Ehdr) eh;
	ElfW(Shdr) sh;
	long fd = asy_sys(SYS_openat, -100, path, O_RDONLY | O_CLOEXEC, 0, 0, 0), r = 0;
	if (fd < 0)
		return 0;
	if (asy_sys(SYS_pread64, fd, &eh, sizeof eh, 0, 0, 0) == (long)sizeof eh &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_shentsize == sizeof sh)
		for (int i = 0; i < eh.e_shnum && !r; i++)
			if (asy_sys(SYS_pread64, fd, &sh, sizeof sh, eh.e_shoff + (size_t)i * sizeof sh,
				    0, 0) == (long)sizeof sh)
				r = sh.sh_type == SHT_SYMTAB;
	asy_sys_close((int)fd);
	return (int)r;
}

static int has_symtab(const Dl_info *di, const char *path)
{
	int i;
	for (i = 0; i < OBJS && objs[i].base; i++)
		if (objs[i].base == di->dli_fbase)
			return objs[i].symtab;
	int r = has_symtab_file(path);
	if (i < OBJS)
		objs[i].base = di->dli_fbase, objs[i].symtab = r;
	return r;
}

/* Fill s for return address ip: "fn+off (object)", or "?+off (object)"
 * with off from the object's base when no symbol covers ip. */
static void sym_fill(struct sym *s, uint64_t ip)
{
	Dl_info di;
	const ElfW(Sym) *es = NULL;
	char name[256];
	uint64_t off = 0, at = ip - 1; /* inside the call, even for noreturn callees */
	s->fn = "?", s->obj = "?", s->off = 0;
	if (!dladdr1((void *)(uintptr_t)at, &di, (void **)&es, RTLD_DL_SYMENT))
		return;
	/* dladdr names the executable by argv[0], which may not be a path. */
	int exe = (uintptr_t)di.dli_fbase == main_base || !di.dli_fname || !*di.dli_fname;
	s->obj = intern(exe ? syms.exe : di.dli_fname);
	uint64_t sa = (uint64_t)(uintptr_t)di.dli_saddr;
	if (di.dli_sname && es && at >= sa && at < sa + es->st_size) {
		s->fn = intern(di.dli_sname);
		s->off = ip - sa;
	} else if (has_symtab(&di, s->obj) && unw_name(at, name, sizeof name, &off) == 0) {
		s->fn = intern(name);
		s->off = off + 1;
	} else {
		s->off = ip - (uint64_t)(uintptr_t)di.dli_fbase;
	}
}

void asy__symbolize(uint64_t ip, const char **fn, uint64_t *off, const char **obj)
{
	asy__mutex_lock(&syms.lock);
	uint32_t h = (uint32_t)((ip * 0x9e3779b97f4a7c15ull) >> 51) % SYMS;
	struct sym *s = NULL;
	for (uint32_t i = 0; i < SYMS; i++) {
		struct sym *c = &syms.tab[(h + i) % SYMS];
		if (c->ip == ip || !c->ip) {
			s = c;
			break;
		}
	}
	struct sym tmp;
	if (!s)
		s = &tmp;
	if (s->ip != ip) {
		sym_fill(s, ip);
		s->ip = ip;
	}
	*fn = s->fn, *off = s->off, *obj = s->obj;
	asy__mutex_unlock(&syms.lock);
}
