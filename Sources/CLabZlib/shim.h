// Debian zlib1g-dev: inflate for gzip NIfTI and deflated DICOM, deflate for PNG output.
#include <zlib.h>
