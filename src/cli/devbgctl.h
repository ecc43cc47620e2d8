/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl: one file per command, each a DevbgctlCommand in the table of
 * devbgctl.c.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "devbg.h"

typedef struct {
  gboolean     json;   /* --json: print one JSON document */
  DevbgClient *client; /* connected lazily by devbgctl_client() */
} Devbgctl;

typedef int (*DevbgctlRun) (Devbgctl *ctl, int argc, char **argv);

typedef struct {
  const char *name;
  const char *args;    /* shown in --help */
  const char *summary;
  DevbgctlRun run;
} DevbgctlCommand;

/* The connection to devbgd, or NULL after printing why. */
DevbgClient *devbgctl_client (Devbgctl *ctl);

/* Prints @error as "devbgctl: CONTEXT: message" and returns exit code 1. */
int          devbgctl_fail (const char *context, const GError *error);

/* @text with what a terminal takes as a command escaped: C0 controls
 * ("\x1b"; but newlines and tabs when @keep_newlines), DEL, C1 controls
 * ("\u009b") and bytes that are no UTF-8. */
char        *devbgctl_printable (const char *text, gboolean keep_newlines);

/* Prints the document @builder built, pretty, on stdout. */
void         devbgctl_print_json (JsonBuilder *builder);

/* Prints @value as JSON (GVariant's JSON mapping), pretty, on stdout. */
void         devbgctl_print_variant_json (GVariant *value);

int devbgctl_cmd_status (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_registrations (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_tasks (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_history (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_cancel (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_devices (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_agent (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_permissions (Devbgctl *ctl, int argc, char **argv);
int devbgctl_cmd_monitor (Devbgctl *ctl, int argc, char **argv);
