/* The dashboard's static files (web/, served from [http] web_root): the pieces of
 * daemon/api_web.c that a test can call without a server. */
#ifndef FLASHRACK_API_WEB_H
#define FLASHRACK_API_WEB_H

#include <stddef.h>

#define API_WEB_FILE_MAX  (1024 * 1024) /* bytes of one file: the dashboard's are a few KiB */
#define API_WEB_NAME_MAX  100           /* bytes of one path segment */
#define API_WEB_DEPTH_MAX 2             /* "app.js", "img/logo.svg" */

/* Content-Type of a file we serve, by its extension (any case), or NULL for a type the
 * dashboard does not use (such a file is answered 404). */
const char *api_web_content_type(const char *name);

/* Resolves rel ("app.js", "img/x.svg": '/'-separated plain names, see api_web.c) under root
 * (an absolute path) to a real path inside the real root, in out[size]. Returns 0; -EINVAL
 * for a name that is not plain (empty, "..", hidden, absolute, other characters, too deep);
 * -ENOENT for a missing file or a type we do not serve; -EACCES when the file resolves
 * outside root (a symlink); -ENAMETOOLONG; other realpath errors as -errno. */
int api_web_resolve(const char *root, const char *rel, char *out, size_t size);

/* Reads the file rel under root into *data (malloc'd, the caller frees; *len bytes) and
 * sets *type to its Content-Type. The errors of api_web_resolve, and -EISDIR (a directory),
 * -EFBIG (over API_WEB_FILE_MAX, or growing while read), -ENOMEM, read errors. */
int api_web_read(const char *root, const char *rel, char **data, size_t *len, const char **type);

#endif
