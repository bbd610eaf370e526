// stb_image compiled from source for the fuzz build only, so that libFuzzer sees its branches and
// the sanitizers check its memory accesses; the normal build links Debian's libstb instead. The
// writer is included because pn::io (write_png) calls it.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
