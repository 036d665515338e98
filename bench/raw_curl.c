/*
 * The limit: the benchmark's GETs done in C with one reused libcurl easy
 * handle, the same request headers as the client, the body gathered into a
 * reused buffer, the status read with curl_easy_getinfo, and no parsing.
 *
 *   raw_curl BASE_URL PROJECT TOKEN
 *
 * with the same settings as the Lua programs (bench/measure.lua), from the
 * environment: BENCH_ROUNDS, BENCH_GET_N, BENCH_PAGE_N, BENCH_WARMUP_GET,
 * BENCH_WARMUP_PAGE.
 * Prints, like bench/measure.lua, one line per round and one per phase:
 *   <call>\tround\t<n>\t<wall s>\t<cpu s>
 *   <call>\trss\t<kB before>\t<kB after>
 * CPU is getrusage(RUSAGE_SELF) user + system time: this process only.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>

#include "common.h"

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *status = fopen("/proc/self/status", "r");
    if (!status)
        return -1;
    while (fgets(line, sizeof line, status))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(status);
    return kb;
}

static CURL *easy;
static buffer body;

static void fetch(const char *url)
{
    long status = 0;
    CURLcode code;

    body.len = 0;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    code = curl_easy_perform(easy);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || status != 200) {
        fprintf(stderr, "raw_curl: %s: %s, HTTP %ld\n", url, curl_easy_strerror(code), status);
        exit(1);
    }
}

static void run(const char *call, const char *url, long rounds, long n)
{
    long before, after;

    before = rss_kb();
    for (long round = 0; round < rounds; round++) {
        double wall = wall_seconds(), cpu = cpu_seconds();
        for (long i = 0; i < n; i++)
            fetch(url);
        cpu = cpu_seconds() - cpu;
        wall = wall_seconds() - wall;
        printf("%s\tround\t%ld\t%.6f\t%.6f\n", call, n, wall, cpu);
        fflush(stdout);
    }
    after = rss_kb();
    printf("%s\trss\t%ld\t%ld\n", call, before, after);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char get_url[512], page_url[512], authorization[1024];
    struct curl_slist *headers = NULL;
    long rounds = setting("BENCH_ROUNDS", 25), get_n = setting("BENCH_GET_N", 4000),
         page_n = setting("BENCH_PAGE_N", 40), warmup_get = setting("BENCH_WARMUP_GET", 1000),
         warmup_page = setting("BENCH_WARMUP_PAGE", 50);

    if (argc != 4) {
        fprintf(stderr, "usage: raw_curl BASE_URL PROJECT TOKEN (settings in BENCH_* variables)\n");
        return 2;
    }
    snprintf(get_url, sizeof get_url, "%s/v1/projects/%s/activeNumbers/%%2B12065550100", argv[1], argv[2]);
    snprintf(page_url, sizeof page_url, "%s/v1/projects/%s/activeNumbers?pageSize=100", argv[1], argv[2]);
    snprintf(authorization, sizeof authorization, "Authorization: Bearer %s", argv[3]);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    easy = curl_easy_init();
    headers = curl_slist_append(headers, authorization);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!easy || !headers)
        return 1;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "raw_curl");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);

    /* The same warm-up as the Lua programs: connection open, buffers grown. */
    for (long i = 0; i < warmup_get; i++)
        fetch(get_url);
    for (long i = 0; i < warmup_page; i++)
        fetch(page_url);

    run("get", get_url, rounds, get_n);
    run("page", page_url, rounds, page_n);

    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    curl_global_cleanup();
    free(body.data);
    return 0;
}
