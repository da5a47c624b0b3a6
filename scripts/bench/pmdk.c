// SPDX-License-Identifier: GPL-2.0
/*
 * pmdk.c - libpmemobj transactions on a pool file on daxfs, ext4 or xfs.
 *
 * usage: pmdk MNT LABEL
 *
 * What an application written against PMDK gets from the filesystem under
 * its pool. MNT/bench-pool (64 MiB) is given as it is to pmemobj_create()
 * (size 0), sealed first on daxfs (FALLOC_FL_SEAL_BLOCK_MAP: all blocks
 * allocated, zeroed and written, the block map immutable while the pool
 * lives; pmemobj_create()'s posix_fallocate() over it changes nothing and
 * succeeds), posix_fallocate()d (unwritten extents) on ext4 and xfs. With the
 * pool mapped MAP_SYNC, a transaction costs stores, cache-line flushes and
 * fences, plus a page fault where the mapping is not populated yet; WARMUP
 * untimed transactions before each timed loop leave only the steady state:
 *
 *   pmdk-tx-64b    N transactions, each adding a 64-byte record of the root
 *                  object (picked by an LCG) to the undo log
 *                  (pmemobj_tx_add_range) and overwriting it;
 *   pmdk-tx-alloc  N transactions, each freeing the 256-byte object the
 *                  root points to and allocating a zeroed one in its place
 *                  (pmemobj_tx_free + pmemobj_tx_zalloc: TX_FREE, TX_ZNEW).
 *
 * Also reports whether libpmem takes the mapping for pmem (MAP_SYNC worked,
 * so flushing from user space is enough), libpmem2's store granularity
 * (CACHE_LINE on DAX with MAP_SYNC, BYTE with eADR, PAGE where msync is
 * needed) and that "pmempool check" finds the pool consistent. Unsafe
 * shutdown detection (checked at create and open only) is off everywhere:
 * an emulated NVDIMM may have no unsafe shutdown counter, and then
 * pmemobj_create() fails (pmem/issues#1039).
 *
 * The page faults of the process while creating the pool
 * (PATTERN-faults-create) and during each workload's warm-up and timed
 * loop (PATTERN-faults-warmup, PATTERN-faults) are info lines: a pool
 * mapped in 2 MiB pages takes a few dozen faults, one in 4 KiB pages
 * thousands, and a timed loop that faults at all enters the filesystem.
 *
 * Prints "bench LABEL PATTERN SECONDS" and "info LABEL KEY VALUE" lines; on
 * failure "bench-error LABEL message", and exits with status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libpmem.h>
#include <libpmem2.h>
#include <libpmemobj.h>

#define N		20000	/* timed transactions per workload */
#define WARMUP		1000	/* untimed transactions before each */
#define POOL_SIZE	(64L << 20)
#define NREC		1024
#define REC_SIZE	64
#define OBJ_SIZE	256
#define LAYOUT		"daxfs-bench"
#define FALLOC_FL_SEAL_BLOCK_MAP	0x100
#define FALLOC_FL_UNSEAL_BLOCK_MAP	0x200

struct root {
	char rec[NREC][REC_SIZE];
	PMEMoid obj;
};

static const char *label;
static char path[4096];
static int is_daxfs;
static uint64_t lcg = 1;

/* Unseals (daxfs) and unlinks the pool file; returns what failed or NULL. */
static const char *remove_file(void)
{
	int fd = open(path, O_RDWR), err = 0;

	if (fd < 0)
		return errno == ENOENT ? NULL : "open";
	if (is_daxfs && fallocate(fd, FALLOC_FL_UNSEAL_BLOCK_MAP, 0, 1))
		err = errno;
	close(fd);
	errno = err;
	return err ? "unseal" : unlink(path) ? "unlink" : NULL;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	printf("bench-error %s ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (remove_file())	/* best effort: a sealed file unlinks too */
		unlink(path);
	exit(1);
}

static void remove_or_die(void)
{
	const char *what = remove_file();

	if (what)
		die("%s %s: %s", what, path, strerror(errno));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned int next_rand(unsigned int n)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (lcg >> 33) % n;
}

static void prepare(void)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600), err;

	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	if (is_daxfs)
		err = fallocate(fd, FALLOC_FL_SEAL_BLOCK_MAP, 0, POOL_SIZE) ? errno : 0;
	else
		err = posix_fallocate(fd, 0, POOL_SIZE);
	if (err)
		die("%s %s: %s", is_daxfs ? "seal" : "posix_fallocate", path, strerror(err));
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
}

static void report_is_pmem(void)
{
	size_t len;
	void *addr = pmem_map_file(path, 0, 0, 0, &len, NULL);

	if (!addr)
		die("pmem_map_file %s: %s", path, pmem_errormsg());
	printf("info %s pmemobj-is-pmem %s\n", label,
	       pmem_is_pmem(addr, len) ? "yes" : "no");
	if (pmem_unmap(addr, len))
		die("pmem_unmap %s: %s", path, pmem_errormsg());
}

static PMEMobjpool *create_pool(void)
{
	PMEMobjpool *pop;
	int off = 0;

	if (pmemobj_ctl_set(NULL, "sds.at_create", &off))
		die("pmemobj_ctl_set sds.at_create: %s", pmemobj_errormsg());
	printf("info %s pmemobj-sds-at-create 0\n", label);
	pop = pmemobj_create(path, LAYOUT, 0, 0600);
	if (pop && is_daxfs)
		printf("info %s pmemobj-create-on-sealed-file ok\n", label);
	if (pop)
		return pop;
	/* A sealed file lets preallocation within its size through (patch 0018). */
	if (is_daxfs)
		die("pmemobj_create on the sealed file %s: %s", path, pmemobj_errormsg());
	printf("info %s pmemobj-create fallback: size 0 failed on the fallocated file (%s), pmemobj_create made the file\n",
	       label, pmemobj_errormsg());
	remove_or_die();
	pop = pmemobj_create(path, LAYOUT, POOL_SIZE, 0600);
	if (!pop)
		die("pmemobj_create %s: %s", path, pmemobj_errormsg());
	return pop;
}

/* Page faults of this process so far (minor and major). */
static long faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage: %s", strerror(errno));
	return ru.ru_minflt + ru.ru_majflt;
}

static void tx_64b(PMEMobjpool *pop, PMEMoid root, struct root *r, int i)
{
	unsigned int k = next_rand(NREC);

	TX_BEGIN(pop) {
		pmemobj_tx_add_range(root, offsetof(struct root, rec[k]), REC_SIZE);
		memset(r->rec[k], i, REC_SIZE);
	} TX_ONABORT {
		die("pmdk-tx-64b transaction aborted: %s", pmemobj_errormsg());
	} TX_END
}

static void tx_alloc(PMEMobjpool *pop, PMEMoid root, struct root *r,
		     int i __attribute__((unused)))
{
	TX_BEGIN(pop) {
		pmemobj_tx_add_range(root, offsetof(struct root, obj), sizeof(PMEMoid));
		if (!OID_IS_NULL(r->obj))
			pmemobj_tx_free(r->obj);
		r->obj = pmemobj_tx_zalloc(OBJ_SIZE, 1);
	} TX_ONABORT {
		die("pmdk-tx-alloc transaction aborted: %s", pmemobj_errormsg());
	} TX_END
}

static void run(const char *pattern, PMEMobjpool *pop,
		void (*tx)(PMEMobjpool *, PMEMoid, struct root *, int))
{
	PMEMoid root = pmemobj_root(pop, sizeof(struct root));
	struct root *r = pmemobj_direct(root);
	double t;
	int i;

	long f0, f1;

	if (OID_IS_NULL(root) || !r)
		die("pmemobj_root: %s", pmemobj_errormsg());
	f0 = faults();
	for (i = 0; i < WARMUP; i++)
		tx(pop, root, r, i);
	f1 = faults();
	t = now();
	for (i = 0; i < N; i++)
		tx(pop, root, r, i);
	t = now() - t;
	printf("bench %s %s %.6f\n", label, pattern, t);
	printf("info %s %s-faults-warmup %ld\n", label, pattern, f1 - f0);
	printf("info %s %s-faults %ld\n", label, pattern, faults() - f1);
}

/* "pmempool check -v" (quiet without -v): exit 0 and "consistent". */
static void pmempool_check(void)
{
	char cmd[sizeof(path) + 64], out[4096], *nl;
	size_t len;
	FILE *f;
	int status;

	snprintf(cmd, sizeof(cmd), "pmempool check -v '%s' 2>&1", path);
	fflush(stdout);
	f = popen(cmd, "r");
	if (!f)
		die("popen pmempool: %s", strerror(errno));
	len = fread(out, 1, sizeof(out) - 1, f);
	out[len] = '\0';
	while ((nl = strchr(out, '\n')))
		*nl = ' ';
	status = pclose(f);	/* -1 or a signal: reported as exit -1 */
	status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (status || !strstr(out, "consistent") || strstr(out, "not consistent"))
		die("pmempool check: exit %d: %s", status, out);
	printf("info %s pmempool-check ok\n", label);
}

static void report_granularity(void)
{
	struct pmem2_config *cfg;
	struct pmem2_source *src;
	struct pmem2_map *map;
	enum pmem2_granularity g;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (pmem2_config_new(&cfg))
		die("pmem2_config_new: %s", pmem2_errormsg());
	if (pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE))
		die("pmem2_config_set_required_store_granularity: %s", pmem2_errormsg());
	if (pmem2_source_from_fd(&src, fd))
		die("pmem2_source_from_fd: %s", pmem2_errormsg());
	if (pmem2_map_new(&map, cfg, src))
		die("pmem2_map_new %s: %s", path, pmem2_errormsg());
	g = pmem2_map_get_store_granularity(map);
	printf("info %s pmem2-granularity %s\n", label,
	       g == PMEM2_GRANULARITY_BYTE ? "BYTE" :
	       g == PMEM2_GRANULARITY_CACHE_LINE ? "CACHE_LINE" : "PAGE");
	if (pmem2_map_delete(&map))
		die("pmem2_map_delete: %s", pmem2_errormsg());
	pmem2_source_delete(&src);
	pmem2_config_delete(&cfg);
	close(fd);
}

int main(int argc, char **argv)
{
	PMEMobjpool *pop;
	long f;

	if (argc != 3) {
		fprintf(stderr, "usage: pmdk MNT LABEL\n");
		return 2;
	}
	label = argv[2];
	is_daxfs = !strcmp(label, "daxfs");
	if (snprintf(path, sizeof(path), "%s/bench-pool", argv[1]) >= (int)sizeof(path) ||
	    strchr(path, '\'')) {
		printf("bench-error %s bad MNT (too long, or has a quote)\n", label);
		return 1;
	}

	remove_or_die();	/* a pool left by an earlier run */
	prepare();
	report_is_pmem();
	f = faults();
	pop = create_pool();
	printf("info %s pmdk-faults-create %ld\n", label, faults() - f);
	run("pmdk-tx-64b", pop, tx_64b);
	run("pmdk-tx-alloc", pop, tx_alloc);
	pmemobj_close(pop);
	pmempool_check();
	report_granularity();
	remove_or_die();
	return 0;
}
