/* INCRBYFLOAT arithmetic in C `long double`.
 *
 * Redis 7.0 adds in `long double` and prints the sum with "%.17Lf", so on x86-64 the
 * 80-bit extended precision decides which digits clients see (10.5 + 0.1 is "10.6", where
 * binary64 would give 10.59999999999999964). Rust has no such type, hence this file. */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest operand text accepted; longer input is "not a valid float", as in Redis. */
#define OPERAND_MAX 5120

/* Parses a whole operand the way Redis's string2ld does. Returns 1 on success. */
static int parse_operand(const char *text, size_t len, long double *out) {
    char buf[OPERAND_MAX];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    /* strtold itself skips leading blanks; Redis refuses them. */
    if (isspace((unsigned char)buf[0])) return 0;
    errno = 0;
    value = strtold(buf, &end);
    /* A NUL inside the input stops strtold early, so compare against the length. */
    if (end != buf + len || isnan(value)) return 0;
    /* Overflow and total underflow are errors; a subnormal result is kept. */
    if (errno == ERANGE && (isinf(value) || value == 0.0L)) return 0;
    if (errno == EINVAL) return 0;
    *out = value;
    return 1;
}

/* Adds `incr` to `current` and writes the sum as Redis shows it: "%.17Lf" without trailing
 * zeros or a trailing point, and "0" rather than "-0".
 * Returns 0 on success (with the text in `out`, its length in `*out_len`), 1 when `current`
 * is not a float, 2 when `incr` is not, 3 when the sum is NaN or infinite, 4 when `out` is too
 * small. */
int redis_lite_add_long_double(const char *current, size_t current_len, const char *incr,
                               size_t incr_len, char *out, size_t out_cap, size_t *out_len) {
    long double a, b, sum;
    int n;
    size_t len;

    if (!parse_operand(current, current_len, &a)) return 1;
    if (!parse_operand(incr, incr_len, &b)) return 2;
    sum = a + b;
    if (isnan(sum) || isinf(sum)) return 3;
    n = snprintf(out, out_cap, "%.17Lf", sum);
    if (n < 0 || (size_t)n >= out_cap) return 4;
    len = (size_t)n;
    if (memchr(out, '.', len) != NULL) {
        while (out[len - 1] == '0') len--;
        if (out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    *out_len = len;
    return 0;
}
