// Debian libpng-dev (libpng 1.6): PNG in and out.
#include <png.h>
