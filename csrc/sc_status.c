#include "sc_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char sc_error_buf[SC_ERROR_MAX];

sc_status sc_set_error(sc_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc_error_buf, sizeof sc_error_buf, fmt, ap);
    va_end(ap);
    return code;
}

sc_status sc_add_context(sc_status code, const char *fmt, ...)
{
    char prefix[SC_ERROR_MAX];
    char old[SC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, sc_error_buf, sizeof old);
    snprintf(sc_error_buf, sizeof sc_error_buf, "%s: %s", prefix, old);
    return code;
}

const char *sc_last_error(void)
{
    return sc_error_buf[0] ? sc_error_buf : "unknown error";
}

void sc_clear_error(void)
{
    sc_error_buf[0] = '\0';
}
