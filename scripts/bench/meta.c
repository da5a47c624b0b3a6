// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata benchmark, run in the benchmark VM on a mounted filesystem
 * (scripts/bench/guest.sh).
 *
 * usage: meta MNT LABEL NFILES THREADS
 *
 * NFILES small files are created (open O_CREAT, one 512-byte write,
 * close), stat'ed, renamed and unlinked, by THREADS threads, each in its
 * own directory MNT/meta/tK with NFILES / THREADS of the files, so that
 * the VFS's per-directory lock does not serialise the threads: what does
 * is the filesystem's own locking (on daxfs, one journal commit per
 * operation). Each phase starts when every thread is ready and ends when
 * the last one is done. Prints "bench LABEL meta-PHASE-tTHREADS SECONDS"
 * for the phases create, stat, rename and unlink.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { CREATE, STAT, RENAME, UNLINK, PHASES };
static const char *const phase_name[PHASES] = { "create", "stat", "rename", "unlink" };

static const char *mnt, *label;
static int per_thread, threads;
static pthread_barrier_t start[PHASES], done[PHASES];
static volatile int failed;

static void fail(const char *what, const char *p)
{
	printf("bench-error %s meta: %s %s: %s\n", label, what, p, strerror(errno));
	failed = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void do_phase(int phase, const char *dir)
{
	char p[4200], q[4200], buf[512];
	struct stat st;

	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < per_thread && !failed; i++) {
		snprintf(p, sizeof(p), "%s/f%d", dir, i);
		snprintf(q, sizeof(q), "%s/renamed-%d", dir, i);
		switch (phase) {
		case CREATE: {
			int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);

			if (fd < 0) {
				fail("create", p);
				break;
			}
			if (write(fd, buf, sizeof(buf)) != sizeof(buf))
				fail("write", p);
			close(fd);
			break;
		}
		case STAT:
			if (stat(p, &st) || st.st_size != sizeof(buf))
				fail("stat", p);
			break;
		case RENAME:
			if (rename(p, q))
				fail("rename", p);
			break;
		case UNLINK:
			if (unlink(q))
				fail("unlink", q);
			break;
		}
	}
}

static void *worker(void *arg)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/meta/t%ld", mnt, (long)arg);
	for (int ph = 0; ph < PHASES; ph++) {
		pthread_barrier_wait(&start[ph]);
		do_phase(ph, dir);
		pthread_barrier_wait(&done[ph]);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	char dir[4096];
	int nfiles;

	if (argc != 5) {
		fprintf(stderr, "usage: meta MNT LABEL NFILES THREADS\n");
		return 2;
	}
	mnt = argv[1];
	label = argv[2];
	nfiles = atoi(argv[3]);
	threads = atoi(argv[4]);
	if (threads < 1 || threads > 64 || nfiles < threads) {
		fprintf(stderr, "meta: 1 to 64 threads, at least one file each\n");
		return 2;
	}
	per_thread = nfiles / threads;
	snprintf(dir, sizeof(dir), "%s/meta", mnt);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fail("mkdir", dir);
		return 1;
	}
	for (long t = 0; t < threads; t++) {
		snprintf(dir, sizeof(dir), "%s/meta/t%ld", mnt, t);
		if (mkdir(dir, 0755)) {
			fail("mkdir", dir);
			return 1;
		}
	}
	for (int ph = 0; ph < PHASES; ph++) {
		pthread_barrier_init(&start[ph], NULL, threads + 1);
		pthread_barrier_init(&done[ph], NULL, threads + 1);
	}
	for (long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)t)) {
			fprintf(stderr, "meta: pthread_create failed\n");
			return 1;
		}
	for (int ph = 0; ph < PHASES; ph++) {
		double t;

		pthread_barrier_wait(&start[ph]);
		t = now();
		pthread_barrier_wait(&done[ph]);
		t = now() - t;
		if (!failed)
			printf("bench %s meta-%s-t%d %.6f\n", label, phase_name[ph],
			       threads, t);
		fflush(stdout);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	for (long t = 0; t < threads; t++) {
		snprintf(dir, sizeof(dir), "%s/meta/t%ld", mnt, t);
		rmdir(dir);
	}
	snprintf(dir, sizeof(dir), "%s/meta", mnt);
	rmdir(dir);
	return failed;
}
