/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The spawn half of the request-to-running floor (bench/bench_runtime.py):
 * starts the bench task executable bare, without devbgd, the way devbgd
 * hands it its fds: a SOCK_SEQPACKET socketpair at fd 4 with the TRIGGER
 * already sent on it (encoded by devbg_channel_encode(), as devbgd does),
 * /dev/null at fds 0-3, devbgd's clean environment, cwd /. None of devbgd's
 * extra work (cgroup, nice, SCHED_BATCH, ioprio, setsid, uid change,
 * no_new_privs, closing other fds): only what any launcher must do.
 *
 *   bench-spawn-floor TASK_EXECUTABLE [ARGUMENT...]
 * runs TASK_EXECUTABLE ARGUMENT... Bench.Latency (with ARGUMENTs, a launcher
 * such as `flatpak run --command=/app/bin/bench-task APP`, which also gets
 * HOME and FLATPAK_SYSTEM_DIR from this helper's environment);
 * then one command a line on stdin, one answer a line on stdout:
 *   spawn OUT  -> OK <ns>  from just before posix_spawn() to the task's entry
 *                 point (the CLOCK_MONOTONIC that Bench.Latency wrote to
 *                 OUT); the task's COMPLETE is read and the child reaped
 *                 first, outside the timed section
 *   quit
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devbg-channel.h"

extern char **environ;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static const char *task_exe;
static char **task_args; /* NULL: none */
static int null_fd = -1;

static void
cmd_spawn (const char *out)
{
  g_autofree char *instance_id = g_uuid_string_random ();
  g_autofree char *task_id = g_uuid_string_random ();
  g_autofree char *arguments = g_strdup_printf ("out=%s", out);
  g_autofree char *env_instance = g_strdup_printf ("DEVBG_INSTANCE_ID=%s", instance_id);
  g_autofree char *env_home = g_strdup_printf ("HOME=%s", g_get_home_dir ());
  g_autofree char *env_flatpak = g_strdup_printf ("FLATPAK_SYSTEM_DIR=%s",
                                                  g_getenv ("FLATPAK_SYSTEM_DIR"));
  char *envp[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", env_instance,
                   "DEVBG_DEVICE_FD=3", "DEVBG_CHANNEL_FD=4",
                   task_args != NULL ? env_home : NULL, env_flatpak, NULL };
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  DevbgChannelMessage trigger = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER,
    .instance_id = instance_id,
    .task_id = task_id,
    .entry_point = "Bench.Latency",
    .device_id = "virtual-B0A1-0000",
    .arguments = arguments,
    .expected_duration_ms = 0,
    .trigger_type = DEVBG_TRIGGER_USE,
  };
  g_autoptr(GBytes) packet = NULL;
  g_autoptr(GError) error = NULL;
  posix_spawn_file_actions_t fa;

  g_ptr_array_add (argv, (char *) task_exe);
  for (char **a = task_args; a != NULL && *a != NULL; a++)
    g_ptr_array_add (argv, *a);
  g_ptr_array_add (argv, "Bench.Latency");
  g_ptr_array_add (argv, NULL);
  g_autofree char *text = NULL;
  int sv[2], ours, theirs, status, rc;
  pid_t pid;
  gint64 t0, entered;
  gboolean completed = FALSE;

  unlink (out);
  packet = devbg_channel_encode (&trigger, &error);
  if (packet == NULL)
    {
      printf ("ERROR encode: %s\n", error->message);
      return;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      printf ("ERROR socketpair: %s\n", g_strerror (errno));
      return;
    }
  /* Above fd 4, so that dup2() onto 3 and 4 never meets its own source. */
  ours = fcntl (sv[0], F_DUPFD_CLOEXEC, 10);
  theirs = fcntl (sv[1], F_DUPFD_CLOEXEC, 10);
  close (sv[0]);
  close (sv[1]);
  if (!devbg_channel_send_bytes (ours, packet, &error))
    {
      printf ("ERROR send: %s\n", error->message);
      close (ours);
      close (theirs);
      return;
    }
  posix_spawn_file_actions_init (&fa);
  for (int fd = 0; fd < 4; fd++)
    posix_spawn_file_actions_adddup2 (&fa, null_fd, fd);
  posix_spawn_file_actions_adddup2 (&fa, theirs, 4);
  posix_spawn_file_actions_addchdir_np (&fa, "/");

  t0 = now_ns ();
  rc = posix_spawn (&pid, task_exe, &fa, NULL, (char **) argv->pdata, envp);
  posix_spawn_file_actions_destroy (&fa);
  close (theirs);
  if (rc != 0)
    {
      printf ("ERROR posix_spawn: %s\n", g_strerror (rc));
      close (ours);
      return;
    }
  /* The task's COMPLETE, then its end. */
  for (;;)
    {
      g_autoptr(DevbgChannelMessage) msg = NULL;
      g_clear_error (&error);
      if (!devbg_channel_recv (ours, DEVBG_CHANNEL_TO_SERVICE, &msg, &error) || msg == NULL)
        break;
      if (msg->type == DEVBG_CHANNEL_MSG_COMPLETE)
        completed = msg->success;
    }
  close (ours);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!completed)
    {
      printf ("ERROR the task did not complete successfully (status %d)\n", status);
      return;
    }
  if (!g_file_get_contents (out, &text, NULL, NULL) ||
      (entered = g_ascii_strtoll (text, NULL, 10)) <= 0)
    {
      printf ("ERROR the task wrote no time stamp to %s\n", out);
      return;
    }
  printf ("OK %" G_GINT64_FORMAT "\n", entered - t0);
}

int
main (int argc, char **argv)
{
  char line[4096];

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s TASK_EXECUTABLE [ARGUMENT...]\n", argv[0]);
      return 2;
    }
  task_exe = argv[1];
  task_args = argc > 2 ? argv + 2 : NULL;
  null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return 1;
  {
    int low = null_fd;
    null_fd = fcntl (low, F_DUPFD_CLOEXEC, 10);
    close (low);
  }
  printf ("READY\n");
  fflush (stdout);
  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_strchomp (line);
      if (strcmp (line, "quit") == 0)
        break;
      if (strncmp (line, "spawn ", 6) == 0)
        cmd_spawn (line + 6);
      else
        printf ("ERROR bad command\n");
      fflush (stdout);
    }
  return 0;
}
