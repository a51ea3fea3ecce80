// Debian libopenjp2-7-dev (OpenJPEG 2.5): JPEG 2000 in DICOM.
#include <openjpeg-2.5/openjpeg.h>
