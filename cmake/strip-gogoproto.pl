#!/usr/bin/perl
# Copies one .proto file, removing what protoc's open-source C++ generator cannot handle:
# gogoproto / containerd fieldpath imports, file options and field options.
# Usage: strip-gogoproto.pl IN OUT
use strict; use warnings;
my ($in, $out) = @ARGV;
open(my $fh, '<', $in) or die "strip-gogoproto: cannot read $in: $!\n";
local $/; my $s = <$fh>; close $fh;
$s =~ s/^\s*import\s+(weak\s+)?"(gogoproto\/gogo\.proto|github\.com\/containerd\/containerd\/protobuf\/plugin\/fieldpath\.proto)";\s*$//mg;
$s =~ s/^\s*option\s+\((gogoproto|containerd\.plugin)\.[^;]*;\s*$//mg;
$s =~ s/\[[^\]]*\((gogoproto|containerd\.plugin)\.[^\]]*\]//g;
open(my $oh, '>', $out) or die "strip-gogoproto: cannot write $out: $!\n";
print $oh $s; close $oh;
