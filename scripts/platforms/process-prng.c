/* bcryptprimitives.dll's ProcessPrng for Wine 8, which lacks that DLL: Rust's std (1.78 and
 * later) imports ProcessPrng for its random numbers, so without it no Rust program starts
 * under Wine. Forwards to RtlGenRandom (advapi32's SystemFunction036). Built with mingw by
 * `npm run check:platforms` into its own Wine prefix; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
