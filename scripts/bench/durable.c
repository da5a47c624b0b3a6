// SPDX-License-Identifier: GPL-2.0
/*
 * durable.c - what it costs to make a 64-byte update durable, two ways.
 *
 * usage: durable MNT LABEL
 *
 * N updates of 64 bytes, each at a random 64-byte-aligned offset in a
 * 32 MiB file (the same offsets for both rows), each durable before the
 * next one starts:
 *
 *   update64-pwrite-fdatasync  pwrite(2), then fdatasync(2). The file was
 *        written with zeros and fsync'd first (on every filesystem), so no
 *        update allocates or converts a block: what is left is two system
 *        calls and the filesystem's fdatasync path.
 *   update64-mapsync-persist   memcpy(3) into a MAP_SYNC mapping, then
 *        pmem_persist(3) (clwb or clflushopt, then sfence): no system call.
 *        With MAP_SYNC the block map under a page is durable once the
 *        write fault on it returns, so flushing the stored cache lines is
 *        all an update needs. The file is sealed on daxfs
 *        (FALLOC_FL_SEAL_BLOCK_MAP) and written with zeros and fsync'd on
 *        ext4 and xfs.
 *
 * The second row does not time page faults: every page of the mapping is
 * stored to once before the clock starts, so it measures the steady-state
 * update of an application that keeps its mapping (scripts/bench/faults.c
 * times the faults). The gap between the rows is what such an application
 * gains over write + fdatasync for small records.
 *
 * MAP_SYNC fails with EOPNOTSUPP where the file is not DAX: that is a
 * bench-error, unless BENCH_NO_MAPSYNC=1 is set, which skips the second
 * row (to try the program on a filesystem without DAX).
 *
 * Prints "bench LABEL PATTERN SECONDS" lines; on failure
 * "bench-error LABEL message", and exits with status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <libpmem.h>

#define N		20000	/* timed updates per row */
#define FILE_SIZE	(32L << 20)
#define PAGE_SIZE	4096
#define REC_SIZE	64

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE	0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC		0x80000
#endif
#define FALLOC_FL_SEAL_BLOCK_MAP	0x100
#define FALLOC_FL_UNSEAL_BLOCK_MAP	0x200

static const char *label;
static char path[4096];
static int is_daxfs;
static uint64_t lcg;

/* Unseals (daxfs) and unlinks the file; returns what failed or NULL. */
static const char *remove_file(void)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return errno == ENOENT ? NULL : "open";
	if (is_daxfs && fallocate(fd, FALLOC_FL_UNSEAL_BLOCK_MAP, 0, 1)) {
		int err = errno;

		close(fd);
		errno = err;
		return "unseal";
	}
	close(fd);
	return unlink(path) ? "unlink" : NULL;
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

static off_t next_off(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (off_t)((lcg >> 33) % (FILE_SIZE / REC_SIZE)) * REC_SIZE;
}

/* A fresh FILE_SIZE file: sealed, or written with zeros and fsync'd. */
static int make_file(int seal)
{
	static char zeros[1 << 20];
	off_t off;
	int fd;

	remove_or_die();
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	if (seal) {
		if (fallocate(fd, FALLOC_FL_SEAL_BLOCK_MAP, 0, FILE_SIZE))
			die("seal %s: %s", path, strerror(errno));
		return fd;
	}
	for (off = 0; off < FILE_SIZE; off += sizeof(zeros))
		if (pwrite(fd, zeros, sizeof(zeros), off) != sizeof(zeros))
			die("write %s: %s", path, strerror(errno));
	if (fsync(fd))
		die("fsync %s: %s", path, strerror(errno));
	return fd;
}

static void pwrite_fdatasync(void)
{
	char buf[REC_SIZE];
	int fd = make_file(0);
	double t;
	int i;

	lcg = 1;
	t = now();
	for (i = 0; i < N; i++) {
		memset(buf, i, sizeof(buf));
		if (pwrite(fd, buf, sizeof(buf), next_off()) != sizeof(buf))
			die("pwrite %s: %s", path, strerror(errno));
		if (fdatasync(fd))
			die("fdatasync %s: %s", path, strerror(errno));
	}
	t = now() - t;
	printf("bench %s update64-pwrite-fdatasync %.6f\n", label, t);
	fflush(stdout);
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
}

static void mapsync_persist(void)
{
	char buf[REC_SIZE], *p;
	int fd = make_file(is_daxfs);
	double t;
	off_t off;
	int i;

	p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED)
		die("mmap MAP_SHARED_VALIDATE|MAP_SYNC %s: %s", path,
		    strerror(errno));
	/* One write fault per page now, so that none is timed below. */
	for (off = 0; off < FILE_SIZE; off += PAGE_SIZE)
		((volatile char *)p)[off] = 0;

	lcg = 1;
	t = now();
	for (i = 0; i < N; i++) {
		off = next_off();
		memset(buf, i, sizeof(buf));
		memcpy(p + off, buf, sizeof(buf));
		pmem_persist(p + off, sizeof(buf));
	}
	t = now() - t;
	printf("bench %s update64-mapsync-persist %.6f\n", label, t);
	fflush(stdout);
	/* Unmap before unsealing: daxfs refuses to unseal a mapped file. */
	if (munmap(p, FILE_SIZE))
		die("munmap %s: %s", path, strerror(errno));
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *skip = getenv("BENCH_NO_MAPSYNC");

	if (argc != 3) {
		fprintf(stderr, "usage: durable MNT LABEL\n");
		return 2;
	}
	label = argv[2];
	is_daxfs = !strcmp(label, "daxfs");
	if (snprintf(path, sizeof(path), "%s/bench-durable", argv[1]) >=
	    (int)sizeof(path)) {
		printf("bench-error %s path too long\n", label);
		return 1;
	}

	pwrite_fdatasync();
	if (skip && !strcmp(skip, "1"))
		printf("info %s update64-mapsync-persist skipped (BENCH_NO_MAPSYNC=1)\n",
		       label);
	else
		mapsync_persist();
	remove_or_die();
	return 0;
}
