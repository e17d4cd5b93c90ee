/* Status codes and the thread-local error message every fallible C function sets.
 *
 * Convention: a function that can fail returns sc_status; on failure it has called
 * sc_set_error() (or let a callee do so) and left its outputs untouched or released.
 * The CPython binding turns (status, message) into the matching Python exception. */
#ifndef SC_STATUS_H
#define SC_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SC_OK = 0,
    SC_ERR_VALUE,      /* bad argument or malformed data  -> ValueError        */
    SC_ERR_IO,         /* the OS refused (open/read/mmap)  -> OSError           */
    SC_ERR_NOT_FOUND,  /* a file that must exist is absent -> FileNotFoundError */
    SC_ERR_NOMEM,      /* host or device allocation failed -> MemoryError       */
    SC_ERR_RUNTIME,    /* backend failure (CUDA, ...)      -> RuntimeError      */
    SC_ERR_INTERRUPTED /* a progress callback asked to stop -> KeyboardInterrupt */
} sc_status;

#define SC_ERROR_MAX 1024

/* Record an error for this thread and return `code` (so callers can `return sc_set_error(...)`). */
sc_status sc_set_error(sc_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepend context ("while loading X: ") to the current message; returns `code`. */
sc_status sc_add_context(sc_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *sc_last_error(void);
void sc_clear_error(void);

/* Propagate a failing status upward unchanged. */
#define SC_TRY(expr)                      \
    do {                                  \
        sc_status sc_try_s_ = (expr);     \
        if (sc_try_s_ != SC_OK)           \
            return sc_try_s_;             \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
