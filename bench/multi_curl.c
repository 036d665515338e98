/*
 * The CPU reference of the section "Many calls at once": the same GETs as
 * client:map makes, done in C on libcurl's multi interface, CONCURRENCY in
 * flight on as many reused easy handles (each keeps its connection in the
 * multi handle's cache), the same request headers as the client, each body
 * gathered into its handle's reused buffer, the status checked, no parsing.
 *
 *   multi_curl BASE_URL PROJECT TOKEN CASE
 *
 * Settings from the environment: BENCH_MANY_N (200 GETs a round),
 * BENCH_MANY_CONCURRENCY (20), BENCH_MANY_ROUNDS (5), after one round of
 * warm-up (connections opened, buffers grown). Prints one line per round,
 * like bench/many.lua:
 *   CASE\tround\t<n>\t<wall s>\t<cpu s>
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>

#include "common.h"

#define MAX_CONCURRENCY 100

typedef struct {
    CURL *easy;
    buffer body;
} transfer;

static transfer transfers[MAX_CONCURRENCY];
static CURLM *multi;
static char url[512];

static void start(transfer *t)
{
    t->body.len = 0;
    curl_multi_add_handle(multi, t->easy);
}

/* `n` GETs, at most `concurrency` in flight; exits on any failure. */
static void round_of(long n, long concurrency)
{
    long started = 0, running = 0;
    for (; started < n && started < concurrency; started++, running++)
        start(&transfers[started]);
    while (running > 0) {
        int still, queued;
        CURLMsg *message;
        curl_multi_perform(multi, &still);
        while ((message = curl_multi_info_read(multi, &queued))) {
            transfer *t;
            long status = 0;
            if (message->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
            if (message->data.result != CURLE_OK || status != 200) {
                fprintf(stderr, "multi_curl: %s: %s, HTTP %ld\n", url, curl_easy_strerror(message->data.result),
                        status);
                exit(1);
            }
            curl_multi_remove_handle(multi, t->easy);
            running--;
            if (started < n) {
                start(t);
                started++;
                running++;
            }
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
}

int main(int argc, char **argv)
{
    char authorization[1024];
    struct curl_slist *headers = NULL;
    long n = setting("BENCH_MANY_N", 200), concurrency = setting("BENCH_MANY_CONCURRENCY", 20),
         rounds = setting("BENCH_MANY_ROUNDS", 5);

    if (argc != 5 || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
        fprintf(stderr, "usage: multi_curl BASE_URL PROJECT TOKEN CASE (settings in BENCH_MANY_* variables; "
                        "concurrency 1 to %d)\n", MAX_CONCURRENCY);
        return 2;
    }
    snprintf(url, sizeof url, "%s/v1/projects/%s/activeNumbers/%%2B12065550100", argv[1], argv[2]);
    snprintf(authorization, sizeof authorization, "Authorization: Bearer %s", argv[3]);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    headers = curl_slist_append(headers, authorization);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!multi || !headers)
        return 1;
    for (long i = 0; i < concurrency; i++) {
        transfer *t = &transfers[i];
        t->easy = curl_easy_init();
        if (!t->easy)
            return 1;
        curl_easy_setopt(t->easy, CURLOPT_URL, url);
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "multi_curl");
        curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, &t->body);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (char *)t);
    }

    round_of(n, concurrency);
    for (long round = 0; round < rounds; round++) {
        double wall = wall_seconds(), cpu = cpu_seconds();
        round_of(n, concurrency);
        cpu = cpu_seconds() - cpu;
        wall = wall_seconds() - wall;
        printf("%s\tround\t%ld\t%.6f\t%.6f\n", argv[4], n, wall, cpu);
        fflush(stdout);
    }

    for (long i = 0; i < concurrency; i++) {
        curl_easy_cleanup(transfers[i].easy);
        free(transfers[i].body.data);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    return 0;
}
