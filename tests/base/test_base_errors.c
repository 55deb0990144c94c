// test_base_errors: an error message that wraps the current one (gh_fail(st, "outer: %s",
// gh_error_get())) comes out whole and once; messages longer than the buffer are cut, not
// overrun.
#include <string.h>

#include "base/base.h"
#include "check.h"

int main(void) {
    gh_fail(GH_EINVAL, "conv: dimension %d is %d", 0, 0);
    CHECK(gh_fail(GH_ENOMEM, "arena probe step: %s", gh_error_get()) == GH_ENOMEM);
    CHECK_MSG(!strcmp(gh_error_get(), "arena probe step: conv: dimension 0 is 0"), "%s",
              gh_error_get());
    gh_error_set("x: %s", gh_error_get());
    CHECK_MSG(!strcmp(gh_error_get(), "x: arena probe step: conv: dimension 0 is 0"), "%s",
              gh_error_get());
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    gh_fail(GH_EINVAL, "%s", big);
    size_t n = strlen(gh_error_get());
    CHECK(n > 0 && n < sizeof big - 1);
    gh_fail(GH_EINVAL, "%s|%s", gh_error_get(), gh_error_get());   // wraps twice, cut
    CHECK(strlen(gh_error_get()) == n);
    gh_error_clear();
    CHECK(gh_error_get()[0] == 0);
    return check_done("test_base_errors");
}
