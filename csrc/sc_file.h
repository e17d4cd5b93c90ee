/* Read-only file maps: the whole file mmap'ed (weights, JSON files), with OS errors turned
 * into SC_ERR_NOT_FOUND / SC_ERR_IO messages that name the file. */
#ifndef SC_FILE_H
#define SC_FILE_H

#include <stddef.h>

#include "sc_status.h"

typedef struct {
    const unsigned char *data; /* NULL for an empty file */
    size_t size;
} sc_file_map;

/* Map `path` read-only. A missing file (or a missing folder on the way) is SC_ERR_NOT_FOUND;
 * anything else the OS refuses, or a path that is not a regular file, is SC_ERR_IO. */
sc_status sc_file_map_open(const char *path, sc_file_map *out);
void sc_file_map_close(sc_file_map *m);

/* Hint that [offset, offset + len) of the map will be read soon (starts readahead). */
void sc_file_map_will_read(const sc_file_map *m, size_t offset, size_t len);

/* Drop [offset, offset + len) of the map from this process's resident memory once it has been
 * read (converted weights are kept elsewhere): the pages stay in the OS page cache and are read
 * back transparently if touched again, since the map is read-only. */
void sc_file_map_done_reading(const sc_file_map *m, size_t offset, size_t len);

/* Does a regular file exist at `path`? */
int sc_file_exists(const char *path);

#endif
