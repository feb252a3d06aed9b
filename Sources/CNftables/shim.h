#include <stdint.h>
#include <stdio.h>
#include <nftables/libnftables.h>
