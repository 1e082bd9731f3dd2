/* sync-loop — appends and fdatasyncs: the commit path of a database log.
 *
 *   sync-loop DIR THREADS RECORDS
 *
 * Each of THREADS threads creates its own log DIR/sync-loop.<pid>.<i>
 * (O_APPEND, truncated), then RECORDS times appends a 4 KiB record and
 * calls fdatasync on it, as a database's committing backends do (pgbench's
 * group commit when THREADS > 1: the file system's journal commits
 * several of them at once).  The logs are removed at the end.
 *
 * The benchmark runner (overhead.py) times the whole process; the program
 * prints one line for a check:
 *   records 800
 * Exit 0, or 1 when a call failed (the failing call is named on stderr). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORD 4096

struct log {
	char path[4096];
	long records;
	int failed;
	pthread_t thread;
};

/* One log's life: create, RECORDS × (append, fdatasync), close, unlink. */
static void *append_sync(void *arg)
{
	struct log *lg = arg;
	char rec[RECORD] = { 0 };
	int fd = open(lg->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0) {
		perror(lg->path);
		lg->failed = 1;
		return NULL;
	}
	for (long i = 0; i < lg->records; i++) {
		snprintf(rec, sizeof(rec), "record %ld\n", i);
		if (write(fd, rec, RECORD) != RECORD || fdatasync(fd) < 0) {
			perror("sync-loop: write or fdatasync");
			lg->failed = 1;
			break;
		}
	}
	if (close(fd) < 0 || unlink(lg->path) < 0) {
		perror("sync-loop: close or unlink");
		lg->failed = 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 2 ? atoi(argv[2]) : 0;
	long records = argc > 3 ? atol(argv[3]) : 0;
	struct log *logs;
	int failed = 0;

	if (argc != 4 || nthreads <= 0 || nthreads > 256 || records <= 0) {
		fprintf(stderr, "usage: sync-loop DIR THREADS RECORDS\n");
		return 2;
	}
	logs = calloc(nthreads, sizeof(*logs));
	if (!logs)
		return 1;
	for (int i = 0; i < nthreads; i++) {
		snprintf(logs[i].path, sizeof(logs[i].path), "%s/sync-loop.%d.%d", argv[1],
			 (int)getpid(), i);
		logs[i].records = records;
	}
	/* One thread: the main thread does it, no thread is started. */
	if (nthreads == 1) {
		append_sync(&logs[0]);
	} else {
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&logs[i].thread, NULL, append_sync, &logs[i]) != 0) {
				fprintf(stderr, "sync-loop: pthread_create failed\n");
				return 1;
			}
		for (int i = 0; i < nthreads; i++)
			pthread_join(logs[i].thread, NULL);
	}
	for (int i = 0; i < nthreads; i++)
		failed |= logs[i].failed;
	if (failed)
		return 1;
	printf("records %ld\n", records * nthreads);
	free(logs);
	return 0;
}
