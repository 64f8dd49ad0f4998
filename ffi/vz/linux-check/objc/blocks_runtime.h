/* Linux compile check only: GNUstep's headers, when clang targets the gnustep-2.0 runtime (the
   only one with ARC), include libobjc2's blocks header, which Debian does not ship. The blocks
   runtime from libblocksruntime-dev declares the same functions. */
#include <Block.h>
