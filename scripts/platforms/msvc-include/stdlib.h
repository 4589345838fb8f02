/* An empty stand-in for the Windows SDK's stdlib.h, for `npm run check:platforms` on Linux:
 * ring's C code includes it only for _byteswap_ulong, which clang has built in, and there is
 * no Windows SDK here. Only compiled (clippy's build scripts), never linked or shipped. */
#pragma once
