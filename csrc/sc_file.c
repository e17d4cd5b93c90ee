#include "sc_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static sc_status os_error(const char *path, const char *action, int err)
{
    if (err == ENOENT || err == ENOTDIR)
        return sc_set_error(SC_ERR_NOT_FOUND, "%s: no such file", path);
    return sc_set_error(SC_ERR_IO, "%s: cannot %s: %s", path, action, strerror(err));
}

sc_status sc_file_map_open(const char *path, sc_file_map *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return os_error(path, "open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return os_error(path, "stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sc_set_error(SC_ERR_IO, "%s: not a regular file%s", path, S_ISDIR(st.st_mode) ? " (a directory)" : "");
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return sc_set_error(SC_ERR_IO, "%s: too large to map on this platform", path);
    }
    out->size = (size_t)st.st_size;
    out->data = NULL;
    if (out->size) {
        void *p = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            return os_error(path, "map", err);
        }
        out->data = p;
    }
    close(fd); /* the mapping keeps the file open */
    return SC_OK;
}

void sc_file_map_close(sc_file_map *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

void sc_file_map_will_read(const sc_file_map *m, size_t offset, size_t len)
{
    if (!m->data || !len)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t start = offset / page * page;
    posix_madvise((void *)(m->data + start), offset + len - start, POSIX_MADV_WILLNEED);
}

void sc_file_map_done_reading(const sc_file_map *m, size_t offset, size_t len)
{
#ifdef MADV_DONTNEED
    if (!m->data || !len)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t start = offset / page * page, end = (offset + len + page - 1) / page * page;
    madvise((void *)(m->data + start), end - start, MADV_DONTNEED);
#else
    (void)m, (void)offset, (void)len;
#endif
}

int sc_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
