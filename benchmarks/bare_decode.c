// A bare C generation loop over llama.cpp's public API: the floor a Python caller is
// measured against. It does what llama-bench's tg test does (one token per llama_decode,
// then llama_synchronize), on a context shaped as asked: llama-bench's (n_ctx = the tokens
// the test needs, one sequence) or danlu's engine's (its n_ctx, parallel + 1 sequences).
//
// Built twice by benchmarks/tg_gap.sh: once against the libllama.so inside the installed
// llama-cpp-python wheel (the library danlu calls) and once against the one built next to
// llama-bench (.bench/llama.cpp/build), so that library, process and caller can be told
// apart.
//
//   bare_decode MODEL.gguf THREADS N_GEN FLASH_ATTN(0|1|-1) REPACK(0|1) POLL N_CTX N_SEQ
//
// With POLL >= 0 it attaches a ggml thread pool with that polling level, as llama-bench
// does (its default is 50); with -1 each graph gets llama.cpp's disposable pool, as every
// llama-cpp-python caller does. It prints the generation rate in tokens per second.

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ggml-cpu.h"
#include "llama.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char * text, void * data) {
    (void) level; (void) text; (void) data;
}

int main(int argc, char ** argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: %s MODEL THREADS N_GEN FA REPACK POLL N_CTX N_SEQ\n", argv[0]);
        return 2;
    }
    const int threads = atoi(argv[2]), n_gen = atoi(argv[3]), fa = atoi(argv[4]);
    const int repack = atoi(argv[5]), poll = atoi(argv[6]);
    const int n_ctx = atoi(argv[7]), n_seq = atoi(argv[8]);
    llama_log_set(quiet, NULL);
    llama_backend_init();

    struct llama_model_params mp = llama_model_default_params();
    mp.use_extra_bufts = repack != 0;
    struct llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx * n_seq; cp.n_batch = 512; cp.n_ubatch = 512; cp.n_seq_max = n_seq;
    cp.n_threads = threads; cp.n_threads_batch = threads;
    cp.flash_attn_type = fa < 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO
                       : fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot create a context\n"); return 1; }

    struct ggml_threadpool * pool = NULL;
    if (poll >= 0) {
        struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
        tpp.poll = poll;
        pool = ggml_threadpool_new(&tpp);
        llama_attach_threadpool(ctx, pool, NULL);
    }

    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    llama_token token = llama_vocab_bos(vocab);
    // warm-up, as llama-bench does: one prompt token and one generated token
    llama_decode(ctx, llama_batch_get_one(&token, 1));
    llama_synchronize(ctx);
    llama_memory_clear(llama_get_memory(ctx), true);

    const double start = now();
    for (int i = 0; i < n_gen; i++) {
        llama_decode(ctx, llama_batch_get_one(&token, 1));
        llama_synchronize(ctx);
    }
    const double seconds = now() - start;
    printf("%.3f\n", n_gen / seconds);

    llama_free(ctx);
    if (pool) ggml_threadpool_free(pool);
    llama_model_free(model);
    return 0;
}
