// SPDX-License-Identifier: GPL-2.0
/*
 * MAP_SYNC first-store faults, run in the benchmark VM on a mounted
 * filesystem (scripts/bench/guest.sh).
 *
 * usage: faults MNT LABEL [ROUNDS]
 *
 * Times the first store to each 4 KiB page of a 32 MiB file mapped with
 * MAP_SHARED_VALIDATE | MAP_SYNC, for files prepared four ways:
 *
 *   sparse    ftruncate only: every fault allocates;
 *   prealloc  fallocate(0): every fault converts an unwritten extent;
 *   ready     the best a filesystem offers before mmap: on daxfs the file
 *             is sealed (FALLOC_FL_SEAL_BLOCK_MAP); elsewhere it is written
 *             with zeros and fsync'd, so its block map is clean (the state
 *             sealing guarantees on daxfs, but only until something
 *             changes the map);
 *   written   written with zeros (1 MiB pwrites) and fsync'd on every
 *             filesystem, daxfs included.
 *
 * and mapped two ways:
 *
 *   2m  mmap(NULL, ...), as applications map files: ext4, xfs and daxfs
 *       return a 2 MiB-aligned address (thp_get_unmapped_area), so a
 *       filesystem whose blocks are 2 MiB-aligned can map 2 MiB per fault;
 *   4k  the same file mapped at an address 4 KiB past a 2 MiB boundary, so
 *       every filesystem takes one fault per 4 KiB page.
 *
 * The file is made, mapped and touched afresh for each run; the stores are
 * timed, not the preparation. Prints "bench LABEL mapsync-HOW-MAP SECONDS":
 * the median of ROUNDS (default 5) runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#define SEAL 0x100
#define UNSEAL 0x200
#define SIZE (32UL << 20)
#define PAGE 4096UL
#define HUGE (2UL << 20)
#define MAXROUNDS 15

static const char *label;
static char path[4096];
static int is_daxfs;

static void fail(const char *what)
{
	printf("bench-error %s faults: %s: %s\n", label, what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void remove_file(void)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return;
	/* A sealed file cannot be truncated; unseal it first. */
	if (is_daxfs)
		fallocate(fd, UNSEAL, 0, 1);
	close(fd);
	unlink(path);
}

static int prepare(const char *how)
{
	static char zeros[1 << 20];
	int fd;

	remove_file();
	fd = open(path, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		fail("open");
	if (!strcmp(how, "sparse")) {
		if (ftruncate(fd, SIZE))
			fail("ftruncate");
	} else if (!strcmp(how, "prealloc")) {
		if (fallocate(fd, 0, 0, SIZE))
			fail("fallocate");
	} else if (!strcmp(how, "ready") && is_daxfs) {
		if (fallocate(fd, SEAL, 0, SIZE))
			fail("seal");
	} else {
		for (off_t off = 0; off < (off_t)SIZE; off += sizeof(zeros))
			if (pwrite(fd, zeros, sizeof(zeros), off) != sizeof(zeros))
				fail("pwrite");
		if (fsync(fd))
			fail("fsync");
	}
	return fd;
}

/* A MAP_SYNC mapping of fd: at mmap's choice (2m) or 4 KiB off 2 MiB (4k). */
static char *map(int fd, int small)
{
	int flags = MAP_SHARED_VALIDATE | MAP_SYNC;
	char *want = NULL, *m;

	if (small) {
		char *r = mmap(NULL, SIZE + 2 * HUGE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (r == MAP_FAILED)
			fail("reserve");
		want = (char *)(((unsigned long)r + HUGE - 1) & ~(HUGE - 1)) + PAGE;
		flags |= MAP_FIXED;
	}
	m = mmap(want, SIZE, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (m == MAP_FAILED)
		fail("mmap MAP_SYNC");
	if (!small && ((unsigned long)m & (HUGE - 1)))
		printf("info %s faults-mmap-null-aligned no\n", label);
	return m;
}

static double run(const char *how, int small)
{
	int fd = prepare(how);
	char *m = map(fd, small);
	double t = now();

	for (unsigned long off = 0; off < SIZE; off += PAGE)
		*(volatile char *)(m + off) = 1;
	t = now() - t;
	munmap(m, SIZE);
	close(fd);
	return t;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const char *const hows[] = { "sparse", "prealloc", "ready", "written" };
	int rounds;

	if (argc < 3) {
		fprintf(stderr, "usage: faults MNT LABEL [ROUNDS]\n");
		return 2;
	}
	label = argv[2];
	is_daxfs = !strcmp(label, "daxfs");
	rounds = argc > 3 ? atoi(argv[3]) : 5;
	if (rounds < 1 || rounds > MAXROUNDS)
		rounds = 5;
	snprintf(path, sizeof(path), "%s/bench-faults", argv[1]);
	for (int small = 1; small >= 0; small--) {
		for (unsigned int h = 0; h < sizeof(hows) / sizeof(hows[0]); h++) {
			double t[MAXROUNDS];

			for (int r = 0; r < rounds; r++)
				t[r] = run(hows[h], small);
			qsort(t, rounds, sizeof(t[0]), cmp);
			printf("bench %s mapsync-%s-%s %.6f\n", label, hows[h],
			       small ? "4k" : "2m", t[rounds / 2]);
			fflush(stdout);
		}
	}
	remove_file();
	return 0;
}
