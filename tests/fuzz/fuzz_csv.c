// fuzz_csv: the CSV reader (data/csv.c through table_read's .csv dispatch), then the dataset
// built from whatever parses (task inferred), as `gpuhours tune data.csv` would.
#include "data/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gh_table t;
    if (table_read(&t, fuzz_file(0, ".csv", data, size))) return 0;
    gh_dataset ds;
    if (!dataset_from_table(&ds, &t, NULL, GH_TASK_AUTO)) dataset_free(&ds);
    table_free(&t);
    return 0;
}
