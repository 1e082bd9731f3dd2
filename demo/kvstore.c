/* kvstore - a small key-value store written the old way: plain blocking
 * pwrite, fsync, pread and read, one record per call, no special APIs.
 * It is the program `make demo` runs under asyncify-ab.
 *
 *   kvstore [-n records] [-l lookups] [-s seed] DBFILE
 *
 * If DBFILE does not exist it is built: `records` fixed-size records, each
 * written with one pwrite, an fsync every 1024 records and at the end.
 * Then `lookups` random keys are read back with pread and checked, and the
 * whole file is scanned once with read().  The last line is a checksum
 * that depends only on the arguments, so every correct run prints the same
 * output, shim or no shim.  Exit status 0, 1 for bad usage or I/O errors,
 * 3 when a record read back is not the one written. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REC_SIZE 256
#define SYNC_EVERY 1024

struct record {
	uint64_t key;
	uint64_t check;                  /* hash of key and payload */
	char payload[REC_SIZE - 16];
};

/* splitmix64: a tiny deterministic generator, same numbers everywhere. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* FNV-1a over a buffer, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void make_record(struct record *r, uint64_t key)
{
	uint64_t s = key * 7 + 1;
	r->key = key;
	for (size_t i = 0; i < sizeof r->payload; i += 8) {
		uint64_t v = next_random(&s);
		memcpy(r->payload + i, &v, sizeof r->payload - i < 8 ? sizeof r->payload - i : 8);
	}
	r->check = fnv1a(0xcbf29ce484222325ULL ^ key, r->payload, sizeof r->payload);
}

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "kvstore: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

/* Build the file under a temporary name and rename it into place, so an
 * interrupted build never leaves a half-written store behind. */
static int build(const char *path, uint64_t records)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail("cannot create", tmp);
	struct record r;
	for (uint64_t k = 0; k < records; k++) {
		make_record(&r, k);
		if (pwrite(fd, &r, sizeof r, (off_t)(k * REC_SIZE)) != (ssize_t)sizeof r)
			return fail("pwrite", tmp);
		if ((k + 1) % SYNC_EVERY == 0 && fsync(fd) < 0)
			return fail("fsync", tmp);
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return fail("fsync", tmp);
	if (rename(tmp, path) < 0)
		return fail("rename to", path);
	return 0;
}

static int lookup(int fd, const char *path, uint64_t records, uint64_t lookups,
		  uint64_t seed, uint64_t *sum)
{
	struct record r, want;
	for (uint64_t i = 0; i < lookups; i++) {
		uint64_t key = next_random(&seed) % records;
		if (pread(fd, &r, sizeof r, (off_t)(key * REC_SIZE)) != (ssize_t)sizeof r)
			return fail("pread", path);
		make_record(&want, key);
		if (memcmp(&r, &want, sizeof r) != 0) {
			fprintf(stderr, "kvstore: %s: record %" PRIu64 " is corrupt\n", path, key);
			return 3;
		}
		*sum = fnv1a(*sum, &r.check, sizeof r.check);
	}
	return 0;
}

static int scan(int fd, const char *path, uint64_t *sum, uint64_t *bytes)
{
	char buf[16384];
	ssize_t n;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return fail("lseek", path);
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		*sum = fnv1a(*sum, buf, (size_t)n);
		*bytes += (uint64_t)n;
	}
	return n < 0 ? fail("read", path) : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: kvstore [-n records] [-l lookups] [-s seed] DBFILE\n");
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t records = 20000, lookups = 20000, seed = 42;
	int c;
	while ((c = getopt(argc, argv, "n:l:s:")) != -1) {
		switch (c) {
		case 'n': records = strtoull(optarg, NULL, 10); break;
		case 'l': lookups = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || records == 0)
		return usage();
	const char *path = argv[optind];
	int built = access(path, F_OK) != 0;
	int rc = built ? build(path, records) : 0;
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail("cannot open", path);
	uint64_t sum = 0xcbf29ce484222325ULL, bytes = 0;
	rc = lookup(fd, path, records, lookups, seed, &sum);
	if (!rc)
		rc = scan(fd, path, &sum, &bytes);
	close(fd);
	if (rc)
		return rc;
	printf("kvstore: %s %" PRIu64 " records, %" PRIu64 " lookups, scanned %" PRIu64
	       " bytes, checksum %016" PRIx64 "\n",
	       built ? "built" : "opened", records, lookups, bytes, sum);
	return 0;
}
