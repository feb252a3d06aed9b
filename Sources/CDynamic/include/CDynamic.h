// SPDX-License-Identifier: Apache-2.0
#pragma once

// libarchive and libnftables are loaded when first used, not at every start: the functions of
// theirs that scompose calls are defined in dynamic.c, each finding its target with dlsym on
// its first call. Loading the two and their dependencies (xml2, icu, nettle, gmp, jansson…)
// cost every command about 3 ms, though only image and network work needs them.
