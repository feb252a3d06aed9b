// SPDX-License-Identifier: Apache-2.0
#pragma once

// libarchive and libnftables are loaded when first used, not at every start: the functions of
// theirs that scompose calls are defined in dynamic.c, each finding its target with dlsym on
// its first call. Loading the two and their dependencies (xml2, icu, nettle, gmp, jansson…)
// cost every command about 3 ms, though only image and network work needs them.

// libcurl, for the registry client, loaded the same way. Its variadic setters and getters are
// given one typed function per argument kind (Swift calls no C variadic function).
#include <curl/curl.h>

CURL *sc_curl_easy_init(void);
void sc_curl_easy_cleanup(CURL *curl);
CURLcode sc_curl_easy_perform(CURL *curl);
const char *sc_curl_easy_strerror(CURLcode code);
CURLcode sc_curl_setopt_long(CURL *curl, CURLoption option, long value);
CURLcode sc_curl_setopt_pointer(CURL *curl, CURLoption option, const void *value);
CURLcode sc_curl_setopt_offset(CURL *curl, CURLoption option, curl_off_t value);
CURLcode sc_curl_getinfo_long(CURL *curl, CURLINFO info, long *value);
struct curl_slist *sc_curl_slist_append(struct curl_slist *list, const char *text);
void sc_curl_slist_free_all(struct curl_slist *list);

