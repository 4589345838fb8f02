/* A stand-in for the macOS SDK's TargetConditionals.h, for `npm run check:platforms` on Linux:
 * ring's C code includes it to tell macOS from iOS, and there is no Apple SDK here. Only
 * compiled (clippy's build scripts), never linked or shipped. */
#pragma once
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_VISION 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_MACCATALYST 0
#define TARGET_OS_EMBEDDED 0
