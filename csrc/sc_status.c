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
    char old[SC_ERROR_MAX];
    memcpy(old, sc_error_buf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sc_error_buf, sizeof sc_error_buf, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof sc_error_buf ? (size_t)n : sizeof sc_error_buf - 1;
    /* append ": <old message>", truncated to the buffer */
    const char *parts[2] = {": ", old};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(parts[i]);
        size_t room = sizeof sc_error_buf - 1 - used;
        if (len > room)
            len = room;
        memcpy(sc_error_buf + used, parts[i], len);
        used += len;
    }
    sc_error_buf[used] = '\0';
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
