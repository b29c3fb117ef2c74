/* pgapi.h: the libpq calls the writer makes, as a table of functions: the seam tests fake. */
#ifndef HTTPLAT_PGAPI_H
#define HTTPLAT_PGAPI_H

#include <libpq-fe.h>

/*
 * Same names and signatures as libpq (PQexec -> exec, ...). The writer calls
 * libpq only through this table, so a test can stand in a database that
 * fails where it is told to: a lost connection mid-COPY, a duplicate batch
 * id, a bad row, a call that never returns.
 */
struct pgapi {
	PGconn *(*connectdb_params)(const char *const *keywords, const char *const *values,
				    int expand_dbname);
	ConnStatusType (*status)(const PGconn *conn);
	char *(*error_message)(const PGconn *conn);
	int (*socket)(const PGconn *conn);
	void (*finish)(PGconn *conn);
	int (*set_client_encoding)(PGconn *conn, const char *encoding);
	PQnoticeProcessor (*set_notice_processor)(PGconn *conn, PQnoticeProcessor proc, void *arg);
	char *(*host)(const PGconn *conn);
	char *(*port)(const PGconn *conn);
	char *(*db)(const PGconn *conn);
	char *(*user)(const PGconn *conn);
	PGresult *(*exec)(PGconn *conn, const char *query);
	PGresult *(*exec_params)(PGconn *conn, const char *command, int nparams,
				 const Oid *types, const char *const *values, const int *lengths,
				 const int *formats, int result_format);
	PGresult *(*get_result)(PGconn *conn);
	ExecStatusType (*result_status)(const PGresult *res);
	char *(*result_error_field)(const PGresult *res, int fieldcode);
	int (*ntuples)(const PGresult *res);
	char *(*getvalue)(const PGresult *res, int row, int col);
	void (*clear)(PGresult *res);
	int (*put_copy_data)(PGconn *conn, const char *buffer, int nbytes);
	int (*put_copy_end)(PGconn *conn, const char *errormsg);
};

/* The real thing. */
extern const struct pgapi pgapi_libpq;

#endif
