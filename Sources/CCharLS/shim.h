// Debian libcharls-dev (CharLS 2.4, C API): JPEG-LS in DICOM.
#include <charls/charls.h>
