/* pgapi.c: the seam's production table: libpq itself. */
#include "pgapi.h"

const struct pgapi pgapi_libpq = {
    .connectdb_params = PQconnectdbParams,
    .status = PQstatus,
    .error_message = PQerrorMessage,
    .socket = PQsocket,
    .finish = PQfinish,
    .set_client_encoding = PQsetClientEncoding,
    .set_notice_processor = PQsetNoticeProcessor,
    .host = PQhost,
    .port = PQport,
    .db = PQdb,
    .user = PQuser,
    .exec = PQexec,
    .exec_params = PQexecParams,
    .get_result = PQgetResult,
    .result_status = PQresultStatus,
    .result_error_field = PQresultErrorField,
    .ntuples = PQntuples,
    .getvalue = PQgetvalue,
    .clear = PQclear,
    .put_copy_data = PQputCopyData,
    .put_copy_end = PQputCopyEnd,
};
