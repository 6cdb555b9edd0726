#!/usr/bin/perl
# Copies one .proto file, removing what protoc's open-source C++ generator cannot handle:
# gogoproto / containerd fieldpath imports, file options and field options.
# With LITE, the copy also gets `option optimize_for = LITE_RUNTIME;` after its package line
# (see cmake/ContainerdProtos.cmake for why).
# Usage: strip-gogoproto.pl IN OUT [LITE]
use strict; use warnings;
my ($in, $out, $lite) = @ARGV;
open(my $fh, '<', $in) or die "strip-gogoproto: cannot read $in: $!\n";
local $/; my $s = <$fh>; close $fh;
$s =~ s/^\s*import\s+(weak\s+)?"(gogoproto\/gogo\.proto|github\.com\/containerd\/containerd\/protobuf\/plugin\/fieldpath\.proto)";\s*$//mg;
$s =~ s/^\s*option\s+\((gogoproto|containerd\.plugin)\.[^;]*;\s*$//mg;
$s =~ s/\[[^\]]*\((gogoproto|containerd\.plugin)\.[^\]]*\]//g;
if (defined $lite && $lite eq 'LITE') {
  $s =~ s/^(\s*package\s+[\w.]+\s*;[^\n]*\n)/$1option optimize_for = LITE_RUNTIME;\n/m
    or die "strip-gogoproto: no package line in $in\n";
}
open(my $oh, '>', $out) or die "strip-gogoproto: cannot write $out: $!\n";
print $oh $s; close $oh;
