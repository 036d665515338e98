/*
 * What the benchmark's C programs (bench/raw_curl.c, bench/multi_curl.c)
 * share: a growing body buffer for libcurl's write callback, the clocks, and
 * the settings from the environment.
 */
#ifndef SINCHNUMBERS_BENCH_COMMON_H
#define SINCHNUMBERS_BENCH_COMMON_H

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

/* CURLOPT_WRITEFUNCTION with a buffer as CURLOPT_WRITEDATA. */
static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    buffer *b = userdata;
    size_t len = size * count;
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < len)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return len;
}

/* getrusage(RUSAGE_SELF) user + system time: this process only. */
static double cpu_seconds(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6
         + (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static long setting(const char *name, long fallback)
{
    const char *value = getenv(name);
    return value && *value ? atol(value) : fallback;
}

#endif
