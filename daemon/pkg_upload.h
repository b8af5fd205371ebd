/* One package upload on its way to the catalogue (POST /api/v1/packages): the body goes into
 * a fresh temp folder under the catalogue (<dir>/.upload-XXXXXX/<name>) as it arrives,
 * SHA-256 computed on the way, bounded by a byte limit. Nothing of it survives a discard: a
 * refused, broken or abandoned upload leaves no file behind.
 *
 * Writes are plain write(2)s of the pieces libmicrohttpd hands over (at most a socket
 * buffer), on the loop thread: local disk, no fsync here (the inspect worker syncs). */
#ifndef FLASHRACK_PKG_UPLOAD_H
#define FLASHRACK_PKG_UPLOAD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define PKG_UPLOAD_NAME_MAX 128 /* bytes of an uploaded file's name */

struct pkg_upload;

/* A plain file name: 1..PKG_UPLOAD_NAME_MAX bytes, printable ASCII, no '/', no '\', not
 * starting with '.', no leading or trailing space. 0, or -EINVAL with err naming the problem. */
int pkg_upload_check_name(const char *name, char *err, size_t errlen);

/* Creates the temp folder and file under dir (which must exist). limit: bytes allowed. */
int pkg_upload_begin(const char *dir, const char *name, uint64_t limit, struct pkg_upload **ret,
                     char *err, size_t errlen);
/* Appends. -EFBIG when the body goes over the limit (the temp folder is removed at once, later
 * writes keep failing); another -errno on a write error (err says which). */
int pkg_upload_write(struct pkg_upload *u, const void *buf, size_t len, char *err, size_t errlen);
/* The end of the body: closes the file; sha256 and size of what arrived. -EFBIG / -EIO after
 * a failed write. */
int pkg_upload_finish(struct pkg_upload *u, char sha256[65], uint64_t *ret_size);
uint64_t pkg_upload_size(const struct pkg_upload *u);
const char *pkg_upload_name(const struct pkg_upload *u);
const char *pkg_upload_path(const struct pkg_upload *u);   /* <dir>/.upload-XXXXXX/<name> */
const char *pkg_upload_folder(const struct pkg_upload *u); /* <dir>/.upload-XXXXXX */
/* Moves the temp folder to <dir>/<sha256> (call after finish). -EEXIST when that is there
 * already (the same bytes, uploaded meanwhile): the upload is left as it was. */
int pkg_upload_commit(struct pkg_upload *u, const char *sha256, char *ret_path, size_t size);
/* Removes the temp folder (unless committed) and frees u. NULL is fine. */
void pkg_upload_discard(struct pkg_upload *u);

/* Removes a folder and the files in it (one level: what the catalogue stores). */
int pkg_upload_remove_folder(const char *folder);
/* Removes temp folders an earlier run left behind (killed mid-upload). Returns how many. */
int pkg_upload_sweep(const char *dir);

#endif
