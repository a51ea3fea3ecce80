// Safe entry points over Debian's libjpeg-turbo (8-bit samples). libjpeg signals errors with
// longjmp, which must not cross Swift frames, so setjmp lives here and errors come back as a
// return code plus a message.
#ifndef CJPEG_SHIM_H
#define CJPEG_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// Decodes a JPEG held in memory. On success returns 0 and sets *out (free with cjpeg_free) to
/// width*height*components bytes, interleaved. keep_ycc != 0 returns YCbCr samples unconverted.
/// max_pixels bounds width*height before any allocation. On failure returns non-zero and writes
/// libjpeg's message into err.
int cjpeg_decode(const uint8_t *data, size_t length, int keep_ycc, uint64_t max_pixels,
                 uint8_t **out, int *width, int *height, int *components, int *precision,
                 char *err, size_t err_length);

/// Encodes 8-bit grey (components 1) or RGB (3) pixels at quality 1...100.
int cjpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality,
                 uint8_t **out, unsigned long *out_length, char *err, size_t err_length);

/// Frees a buffer returned by cjpeg_decode or cjpeg_encode.
void cjpeg_free(void *p);

#endif
