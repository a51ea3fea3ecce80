#include "cjpeg_shim.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct shim_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *msg;
    size_t msg_length;
};

static void shim_error_exit(j_common_ptr cinfo) {
    struct shim_error *e = (struct shim_error *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    if (e->msg && e->msg_length) snprintf(e->msg, e->msg_length, "%s", buffer);
    longjmp(e->jump, 1);
}

/* Warnings (e.g. "premature end of data") are not fatal in libjpeg; we keep them silent. */
static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* The error manager both directions use: fatal errors longjmp back with their text in `err`.
   The setjmp itself must stay in the caller, whose frame is still alive when libjpeg jumps. */
static struct jpeg_error_mgr *shim_error_init(struct shim_error *jerr, char *err, size_t err_length) {
    struct jpeg_error_mgr *mgr = jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = shim_error_exit;
    jerr->pub.output_message = shim_output_message;
    jerr->msg = err;
    jerr->msg_length = err_length;
    return mgr;
}

int cjpeg_decode(const uint8_t *data, size_t length, int keep_ycc, uint64_t max_pixels,
                 uint8_t **out, int *width, int *height, int *components, int *precision,
                 char *err, size_t err_length) {
    struct jpeg_decompress_struct cinfo;
    struct shim_error jerr;
    uint8_t *volatile buffer = NULL;
    *out = NULL;
    cinfo.err = shim_error_init(&jerr, err, err_length);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    *precision = cinfo.data_precision;
    if ((uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(err, err_length, "JPEG of %ux%u exceeds the pixel limit", cinfo.image_width, cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    if (keep_ycc && cinfo.jpeg_color_space == JCS_YCbCr) cinfo.out_color_space = JCS_YCbCr;
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        snprintf(err, err_length, "CMYK JPEG is not supported");
        jpeg_destroy_decompress(&cinfo);
        return 3;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    buffer = malloc(stride * cinfo.output_height);
    if (!buffer) {
        snprintf(err, err_length, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return 4;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *components = cinfo.output_components;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out = buffer;
    return 0;
}

int cjpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality,
                 uint8_t **out, unsigned long *out_length, char *err, size_t err_length) {
    struct jpeg_compress_struct cinfo;
    struct shim_error jerr;
    unsigned char *volatile mem = NULL;
    unsigned long mem_length = 0;
    *out = NULL;
    cinfo.err = shim_error_init(&jerr, err, err_length);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(mem);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&mem, &mem_length);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = mem;
    *out_length = mem_length;
    return 0;
}

void cjpeg_free(void *p) { free(p); }
